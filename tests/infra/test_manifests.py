"""Plain manifests in infra/k8s: valid under `kubernetes-validate --strict`, and consistent with each other."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "infra" / "k8s"
K8S_VERSION = "1.33.0"  # the K3s line pinned in infra/k3s/lib.sh
MANIFESTS = sorted(K8S.glob("*.yaml"))


def _validate(tool, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [tool("kubernetes-validate"), "--strict", "-k", K8S_VERSION, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_k3s_version_matches_the_schemas() -> None:
    lib = (ROOT / "infra" / "k3s" / "lib.sh").read_text()
    version = re.search(r"K3S_VERSION=\$\{K3S_VERSION:-v(\d+\.\d+)\.\d+\+k3s\d+\}", lib).group(1)
    assert f"{version}.0" == K8S_VERSION


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_is_valid_strict(tool, path: Path) -> None:
    result = _validate(tool, path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" in result.stdout + result.stderr


def test_pvcs_valid_after_deploy_substitution(tool, tmp_path: Path) -> None:
    text = (K8S / "pvcs.yaml").read_text()
    assert "__NFS_SERVER__" in text
    assert "s/__NFS_SERVER__/$NFS_SERVER/g" in (ROOT / "infra" / "k3s" / "deploy.sh").read_text()
    out = tmp_path / "pvcs.yaml"
    out.write_text(text.replace("__NFS_SERVER__", "10.0.0.10"))
    result = _validate(tool, out)
    assert result.returncode == 0, result.stdout + result.stderr


def test_strict_validation_rejects_unknown_fields(tool, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((K8S / "namespaces.yaml").read_text().replace("  labels:", "  label:", 1))
    result = _validate(tool, bad)
    assert result.returncode != 0
    assert "('label' was unexpected)" in result.stdout + result.stderr


def test_objects_live_in_the_three_namespaces(yaml_docs) -> None:
    namespaces = {d["metadata"]["name"]: d for d in yaml_docs(K8S / "namespaces.yaml")}
    assert set(namespaces) == {"trading-system", "databases", "monitoring"}
    assert (
        namespaces["trading-system"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    )
    for path in MANIFESTS:
        for doc in yaml_docs(path):
            ns = doc["metadata"].get("namespace")
            if doc["kind"] in ("Namespace", "PersistentVolume"):
                assert ns is None
            else:
                assert ns in namespaces, (path.name, doc["metadata"]["name"])


def test_volumes_bind_and_are_exported(yaml_docs) -> None:
    docs = yaml_docs(K8S / "pvcs.yaml")
    pvs = {d["metadata"]["name"]: d for d in docs if d["kind"] == "PersistentVolume"}
    pvcs = {d["metadata"]["name"]: d for d in docs if d["kind"] == "PersistentVolumeClaim"}
    assert set(pvcs) == {"team-data", "ray-results"}
    setup = (ROOT / "infra" / "k3s" / "setup-master.sh").read_text()
    for name, pvc in pvcs.items():
        pv = pvs[pvc["spec"]["volumeName"]]
        assert pv["spec"]["accessModes"] == pvc["spec"]["accessModes"]
        assert pv["spec"]["capacity"]["storage"] == pvc["spec"]["resources"]["requests"]["storage"]
        assert pv["spec"]["storageClassName"] == pvc["spec"]["storageClassName"] == ""  # static binding
        path = pv["spec"]["nfs"]["path"]
        assert path == f"/srv/workbench/{name}"
        assert f"$NFS_ROOT/{name}" in setup  # setup-master.sh creates and exports it
    assert (
        pvs["team-data"]["spec"]["accessModes"] == ["ReadOnlyMany"]
        and pvs["team-data"]["spec"]["nfs"]["readOnly"]
    )
    assert "team-data $LAN(ro," in setup


def test_network_policies_select_real_workloads(yaml_docs) -> None:
    policies = {d["metadata"]["name"]: d for d in yaml_docs(K8S / "networkpolicies.yaml")}
    ray = yaml_docs(ROOT / "infra" / "kuberay" / "raycluster.yaml")[0]["metadata"]["name"]
    deny = policies["default-deny-ingress"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}
    for name, chart, port in (
        ("chromadb-from-workbench", "chromadb", 8000),
        ("ollama-from-workbench", "ollama", 11434),
    ):
        spec = policies[name]["spec"]
        assert policies[name]["metadata"]["namespace"] == "databases"
        assert spec["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": chart}
        (rule,) = spec["ingress"]
        assert [p["port"] for p in rule["ports"]] == [port]
        sources = {tuple(sorted(f["podSelector"]["matchLabels"].items())) for f in rule["from"]}
        assert sources == {(("component", "singleuser-server"),), (("ray.io/cluster", ray),)}
        assert {
            f["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for f in rule["from"]
        } == {"trading-system"}
    assert policies["ray-cluster-ingress"]["spec"]["podSelector"]["matchLabels"] == {"ray.io/cluster": ray}


def test_singleuser_account_has_no_token(yaml_docs) -> None:
    accounts = {
        d["metadata"]["name"]: d for d in yaml_docs(K8S / "rbac.yaml") if d["kind"] == "ServiceAccount"
    }
    assert accounts["workbench-singleuser"]["automountServiceAccountToken"] is False
