"""Helm values: z2jh 4.4.0 merged over the chart's defaults and validated with its schema; the other
charts' values only use keys their charts define; the names the values rely on exist elsewhere."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from jsonschema import Draft7Validator

ROOT = Path(__file__).resolve().parents[2]
HELM = ROOT / "infra" / "helm"
K8S_VERSION = "1.33.0"  # the K3s line pinned in infra/k3s/lib.sh


def helm_merge(defaults: Any, override: Any) -> Any:
    """Values merged as helm does: maps merge recursively, lists and scalars replace, null deletes."""
    if not (isinstance(defaults, dict) and isinstance(override, dict)):
        return copy.deepcopy(override)
    out = copy.deepcopy(defaults)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = helm_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def values(name: str) -> dict:
    return yaml.safe_load((HELM / name / "values.yaml").read_text())


@pytest.fixture(scope="module")
def z2jh(schemas: Path) -> tuple[dict, dict]:
    base = schemas / "z2jh" / "4.4.0"
    schema = json.loads((base / "values.schema.json").read_text())
    defaults = yaml.safe_load((base / "values.yaml").read_text())
    return schema, helm_merge(defaults, values("jupyterhub"))


def _errors(schema: dict, instance: dict) -> list[str]:
    return [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in Draft7Validator(schema).iter_errors(instance)
    ]


def test_helm_merge_semantics() -> None:
    defaults = {"a": {"b": 1, "c": [1, 2], "d": {"e": 1}}, "x": 1, "gone": {"k": 1}}
    override = {"a": {"c": [3], "d": {"f": 2}}, "x": None, "gone": None, "new": [1]}
    assert helm_merge(defaults, override) == {"a": {"b": 1, "c": [3], "d": {"e": 1, "f": 2}}, "new": [1]}
    assert defaults["a"]["c"] == [1, 2]  # inputs untouched


def test_z2jh_values_pass_the_chart_schema(z2jh: tuple[dict, dict]) -> None:
    schema, merged = z2jh
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert _errors(schema, merged) == []


@pytest.mark.parametrize(
    ("path", "bad", "why"),
    [
        (("singleuser", "profileLists"), [], "typo of a key: additionalProperties is false"),
        (("proxy", "service", "type"), "Ingress", "not one of the service types"),
        (("cull", "timeout"), "1h", "not an integer"),
        (("hub", "db", "type"), "sqlite", "not a database type of the chart"),
    ],
)
def test_schema_rejects_mistakes(z2jh: tuple[dict, dict], path: tuple[str, ...], bad: Any, why: str) -> None:
    schema, merged = z2jh
    broken = copy.deepcopy(merged)
    node = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = bad
    assert _errors(schema, broken), why


def test_z2jh_on_k3s(z2jh: tuple[dict, dict]) -> None:
    _, v = z2jh
    assert v["ingress"]["enabled"] is True and v["ingress"]["ingressClassName"] == "traefik"
    assert v["proxy"]["service"]["type"] == "ClusterIP"
    assert v["singleuser"]["storage"]["type"] == "dynamic"
    assert v["singleuser"]["storage"]["dynamic"]["storageClass"] == "local-path"
    assert (
        v["hub"]["db"]["type"] == "sqlite-pvc" and v["hub"]["db"]["pvc"]["storageClassName"] == "local-path"
    )
    assert v["cull"]["enabled"] is True and 0 < v["cull"]["timeout"] <= 4 * 3600
    profiles = v["singleuser"]["profileList"]
    assert [p["slug"] for p in profiles] == ["small", "large"]
    assert [p.get("default", False) for p in profiles] == [True, False]
    small, large = (p["kubespawner_override"] for p in profiles)
    for key in ("cpu_guarantee", "cpu_limit", "mem_guarantee", "mem_limit"):
        assert key in small and key in large
    assert large["cpu_limit"] > small["cpu_limit"]


def test_authenticator_is_real_and_reads_a_secret(z2jh: tuple[dict, dict]) -> None:
    _, v = z2jh
    hub = v["hub"]
    assert hub["config"]["JupyterHub"]["authenticator_class"] == "shared-password"
    assert hub["config"]["Authenticator"]["admin_users"] == ["hubadmin"]
    assert hub["config"]["Authenticator"].get("allow_all") is False
    env = hub["extraEnv"]
    snippet = "\n".join(hub["extraConfig"].values())
    compile(snippet, "extraConfig", "exec")  # valid Python
    used = set(re.findall(r'os\.environ\["([A-Z_]+)"\]', snippet))
    assert used == {"WORKBENCH_HUB_USER_PASSWORD", "WORKBENCH_HUB_ADMIN_PASSWORD"}
    for name in used:  # each comes from the documented Secret, never from the values file
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "workbench-hub-auth"
    assert "shared_password" not in json.dumps(hub["config"])


def _image(ref: str) -> str:
    return ref if ":" in ref.rsplit("/", 1)[-1] else f"{ref}:latest"


def test_one_workbench_image_everywhere(z2jh: tuple[dict, dict], yaml_docs) -> None:
    _, v = z2jh
    image = f"{v['singleuser']['image']['name']}:{v['singleuser']['image']['tag']}"
    lib = (ROOT / "infra" / "k3s" / "lib.sh").read_text()
    assert f"WORKBENCH_IMAGE=${{WORKBENCH_IMAGE:-{image}}}" in lib  # what deploy.sh builds and imports
    for doc in yaml_docs(ROOT / "infra" / "kuberay" / "raycluster.yaml"):
        spec = doc["spec"]
        groups = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
        assert {c["image"] for g in groups for c in g["template"]["spec"]["containers"]} == {image}
    job = yaml_docs(ROOT / "infra" / "kuberay" / "rayjob-sweep.yaml")[0]
    assert {c["image"] for c in job["spec"]["submitterPodTemplate"]["spec"]["containers"]} == {image}
    assert v["singleuser"]["image"]["pullPolicy"] == "Never"  # imported, never pulled from a registry


def test_dockerfile_matches_the_hub(schemas: Path) -> None:
    dockerfile = (ROOT / "infra" / "docker" / "Dockerfile").read_text()
    app_version = yaml.safe_load((schemas / "z2jh" / "4.4.0" / "Chart.yaml").read_text())["appVersion"]
    assert f"jupyterhub=={app_version}" in dockerfile  # singleuser server = the hub's JupyterHub
    assert (
        'workbench" kernel install --sys-prefix' in dockerfile
        or "workbench kernel install --sys-prefix" in dockerfile
    )
    assert re.search(r"^FROM python:3\.11\.\d+-slim", dockerfile, re.M)  # the project's Python, pinned
    assert re.search(r"^USER \$\{NB_UID\}", dockerfile, re.M) and "ARG NB_UID=1000" in dockerfile
    for tool in ("bash", "wget"):  # KubeRay runs `bash -c ... ray start` and wget health probes
        assert re.search(rf"apt-get install[^\n]*\b{tool}\b", dockerfile)
    ignore = (ROOT / "infra" / "docker" / "Dockerfile.dockerignore").read_text().split()
    assert ".venv" in ignore and "data/lake" in ignore


def _network_policy(name: str, spec: dict) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": "trading-system"}, "spec": spec}  # fmt: skip


def test_user_egress_opens_exactly_ray_chroma_ollama(z2jh: tuple[dict, dict], yaml_docs) -> None:
    _, v = z2jh
    np = v["singleuser"]["networkPolicy"]
    assert np["enabled"] is True and np["egressAllowRules"]["privateIPs"] is False  # still blocked in general
    ports = {p["port"] for rule in np["egress"] for p in rule["ports"]}
    assert ports == {8265, 10001, 8000, 11434}
    spec = {"podSelector": {"matchLabels": {"component": "singleuser-server"}}, "policyTypes": ["Egress", "Ingress"],
            "egress": np["egress"], "ingress": np["ingress"]}  # fmt: skip
    kubernetes_validate.validate(_network_policy("singleuser", spec), K8S_VERSION, strict=True)

    namespaces = {d["metadata"]["name"] for d in yaml_docs(ROOT / "infra" / "k8s" / "namespaces.yaml")}
    ray = yaml_docs(ROOT / "infra" / "kuberay" / "raycluster.yaml")[0]
    by_port = {p["port"]: rule["to"][0] for rule in np["egress"] for p in rule["ports"]}
    assert by_port[8265]["podSelector"]["matchLabels"]["ray.io/cluster"] == ray["metadata"]["name"]
    assert "namespaceSelector" not in by_port[8265] and ray["metadata"]["namespace"] == "trading-system"
    head_ports = {
        p["containerPort"] for p in ray["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"]
    }
    assert {8265, 10001} <= head_ports
    for port, chart in ((8000, "chromadb"), (11434, "ollama")):
        to = by_port[port]
        assert to["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] in namespaces
        assert to["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == chart  # the chart's name label
    assert values("chromadb")["chromadb"]["serverHttpPort"] == 8000
    assert values("ollama")["ollama"]["port"] == 11434 == values("ollama")["service"]["port"]
    # The addresses the notebooks get point at those services.
    env = v["singleuser"]["extraEnv"]
    assert (
        env["RAY_ADDRESS"]
        == f"http://{ray['metadata']['name']}-head-svc.trading-system.svc.cluster.local:8265"
    )
    assert env["CHROMA_HOST"].endswith("chromadb.databases.svc.cluster.local:8000")
    assert env["OLLAMA_HOST"].endswith("ollama.databases.svc.cluster.local:11434")


def test_team_data_is_mounted_read_only(z2jh: tuple[dict, dict], yaml_docs) -> None:
    _, v = z2jh
    storage = v["singleuser"]["storage"]
    pvcs = {d["metadata"]["name"]: d for d in yaml_docs(ROOT / "infra" / "k8s" / "pvcs.yaml")
            if d["kind"] == "PersistentVolumeClaim"}  # fmt: skip
    (volume,) = storage["extraVolumes"]
    claim = volume["persistentVolumeClaim"]
    assert claim["readOnly"] is True and pvcs[claim["claimName"]]["spec"]["accessModes"] == ["ReadOnlyMany"]
    assert pvcs[claim["claimName"]]["metadata"]["namespace"] == "trading-system"
    (mount,) = storage["extraVolumeMounts"]
    assert mount["name"] == volume["name"] and mount["readOnly"] is True
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "jupyter-x", "namespace": "trading-system"},
           "spec": {"volumes": storage["extraVolumes"],
                    "containers": [{"name": "notebook", "image": "x", "volumeMounts": storage["extraVolumeMounts"]}]}}  # fmt: skip
    kubernetes_validate.validate(pod, K8S_VERSION, strict=True)


def test_hub_rbac_and_service_accounts_exist(z2jh: tuple[dict, dict], yaml_docs) -> None:
    _, v = z2jh
    assert v["rbac"]["create"] is False and v["hub"]["serviceAccount"]["create"] is False
    assert v["scheduling"]["userScheduler"]["enabled"] is False  # would need the chart's RBAC
    docs = yaml_docs(ROOT / "infra" / "k8s" / "rbac.yaml")
    accounts = {d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount"}
    assert {v["hub"]["serviceAccount"]["name"], v["singleuser"]["serviceAccountName"]} <= accounts
    binding = next(d for d in docs if d["kind"] == "RoleBinding" and d["metadata"]["name"] == "hub")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "hub", "namespace": "trading-system"}]
    role = next(
        d for d in docs if d["kind"] == "Role" and d["metadata"]["name"] == binding["roleRef"]["name"]
    )
    granted = {(r, verb) for rule in role["rules"] for r in rule["resources"] for verb in rule["verbs"]}
    for resource in ("pods", "persistentvolumeclaims"):  # what KubeSpawner does with user pods and homes
        for verb in ("get", "list", "watch", "create", "delete"):
            assert (resource, verb) in granted


def _secret_refs(node: Any) -> set[tuple[str, str]]:
    if isinstance(node, dict):
        if "secretKeyRef" in node:
            return {(node["secretKeyRef"]["name"], node["secretKeyRef"]["key"])}
        return set().union(*(_secret_refs(x) for x in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(_secret_refs(x) for x in node)) if node else set()
    return set()


def test_every_referenced_secret_is_created_by_deploy_and_documented(yaml_docs) -> None:
    refs = _secret_refs(values("jupyterhub"))
    for f in ("raycluster.yaml", "rayjob-sweep.yaml"):
        refs |= _secret_refs(yaml_docs(ROOT / "infra" / "kuberay" / f))
    chroma = values("chromadb")["chromadb"]["auth"]
    refs.add((chroma["existingSecret"], "token"))  # the chart reads key "token" for token auth
    assert {name for name, _ in refs} == {"workbench-hub-auth", "workbench-ray-auth", "chromadb-auth"}
    deploy = (ROOT / "infra" / "k3s" / "deploy.sh").read_text()
    docs = (ROOT / "docs" / "deploy.md").read_text()
    for name, key in refs:
        assert re.search(rf'ensure_secret \S+ {re.escape(name)} .*"{re.escape(key)}=', deploy), (name, key)
        assert name in docs, f"docs/deploy.md does not explain Secret {name}"


# -- the other charts: no schema is shipped, so every key must be one the chart's values.yaml has ------


# Kubernetes structures the charts pass through as they are (checked against the k8s schema below).
PASSTHROUGH = {"resources", "securityContext", "podSecurityContext"}


def unknown_keys(ours: Any, defaults: Any, path: str = "") -> list[str]:
    problems = []
    for key, value in ours.items():
        where = f"{path}.{key}" if path else key
        if key not in defaults:
            problems.append(f"{where}: not a key of the chart")
            continue
        default = defaults[key]
        if key in PASSTHROUGH:
            continue
        if isinstance(default, dict) and default and isinstance(value, dict):
            problems += unknown_keys(value, default, where)
        elif isinstance(default, bool) and not isinstance(value, bool):
            problems.append(f"{where}: the chart expects true/false")
        elif isinstance(default, dict) and value is not None and not isinstance(value, dict):
            problems.append(f"{where}: the chart expects a map")
        elif isinstance(default, list) and value is not None and not isinstance(value, list):
            problems.append(f"{where}: the chart expects a list")
    return problems


CHARTS = {
    "kuberay-operator": ("kuberay/v1.7.0/helm-chart/kuberay-operator", ["values.yaml"]),
    "ollama": ("ollama-helm/1.77.0", ["values.yaml", "values-gpu.yaml"]),
    "chromadb": ("chromadb-chart/0.2.2", ["values.yaml"]),
}


@pytest.mark.parametrize("chart", sorted(CHARTS))
def test_chart_values_use_only_chart_keys(schemas: Path, chart: str) -> None:
    where, files = CHARTS[chart]
    defaults = yaml.safe_load((schemas / where / "values.yaml").read_text())
    for f in files:
        ours = yaml.safe_load((HELM / chart / f).read_text())
        assert unknown_keys(ours, defaults) == [], f


@pytest.mark.parametrize("chart", sorted(CHARTS))
def test_chart_resources_are_kubernetes_resources(chart: str) -> None:
    ours = values(chart)
    container = {"name": "c", "image": "x", "resources": ours["resources"]}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [container]}}
    kubernetes_validate.validate(pod, K8S_VERSION, strict=True)
    assert ours["resources"]["requests"]["memory"]  # every service asks for its memory up front


def test_unknown_keys_catches_typos(schemas: Path) -> None:
    defaults = yaml.safe_load((schemas / "ollama-helm" / "1.77.0" / "values.yaml").read_text())
    assert unknown_keys({"persistentVolume": {"enable": True}}, defaults) == [
        "persistentVolume.enable: not a key of the chart"
    ]
    assert unknown_keys({"ollama": {"gpu": {"enabled": "yes"}}}, defaults) == [
        "ollama.gpu.enabled: the chart expects true/false"
    ]


def test_ollama_and_chroma_settings(schemas: Path) -> None:
    ollama = values("ollama")
    assert (
        ollama["persistentVolume"]["enabled"] is True
        and ollama["persistentVolume"]["storageClass"] == "local-path"
    )
    assert "llama3.1:8b" in ollama["ollama"]["models"]["pull"]  # the workbench's default OLLAMA_MODEL
    assert ollama["ollama"]["gpu"]["enabled"] is False
    gpu = yaml.safe_load((HELM / "ollama" / "values-gpu.yaml").read_text())
    assert gpu["ollama"]["gpu"]["enabled"] is True and gpu["ollama"]["gpu"]["type"] == "nvidia"
    chroma = values("chromadb")
    assert (
        chroma["chromadb"]["isPersistent"] is True
        and chroma["chromadb"]["data"]["storageClass"] == "local-path"
    )
    auth = chroma["chromadb"]["auth"]
    assert auth["enabled"] is True and auth["type"] == "token"
    # The chart only wires auth for the Python server (< 1.0.0; its values.yaml says the Rust server
    # ignores chromadb.auth.*), so token auth needs the image pinned below 1.0.
    chart_values = (schemas / "chromadb-chart" / "0.2.2" / "values.yaml").read_text()
    assert "the Rust server (>= 1.0.0) does not use these Python-era auth settings" in chart_values
    major = int(chroma["image"]["tag"].split(".")[0])
    assert major == 0


def test_kuberay_operator_is_namespaced(schemas: Path) -> None:
    v = values("kuberay-operator")
    chart = yaml.safe_load(
        (schemas / "kuberay" / "v1.7.0" / "helm-chart" / "kuberay-operator" / "Chart.yaml").read_text()
    )
    assert v["image"]["tag"] == f"v{chart['version']}"
    assert v["singleNamespaceInstall"] is True


def test_kube_prometheus_stack_values_reference_what_deploy_creates() -> None:
    v = values("kube-prometheus-stack")
    deploy = (ROOT / "infra" / "k3s" / "deploy.sh").read_text()
    scrape = v["prometheus"]["prometheusSpec"]["additionalScrapeConfigsSecret"]
    assert f"create secret generic {scrape['name']}" in deploy
    assert f"--from-file={scrape['key']}=" in deploy
    sidecar = v["grafana"]["sidecar"]["dashboards"]
    assert f"{sidecar['label']}={sidecar['labelValue']}" in deploy
    admin = v["grafana"]["admin"]
    assert re.search(
        rf'ensure_secret monitoring {admin["existingSecret"]} "{admin["userKey"]}=.*"{admin["passwordKey"]}=',
        deploy,
    )
    assert (
        v["prometheus"]["prometheusSpec"]["ruleSelectorNilUsesHelmValues"] is False
    )  # picks up PrometheusRule workbench
