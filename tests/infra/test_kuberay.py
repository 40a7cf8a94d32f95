"""RayCluster and RayJob against the KubeRay v1.7.0 CRDs (unknown fields rejected), and the example sweep."""

from __future__ import annotations

import copy
import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

ROOT = Path(__file__).resolve().parents[2]
KUBERAY = ROOT / "infra" / "kuberay"


def strict(schema: Any) -> Any:
    """The CRD schema with additionalProperties: false wherever it lists properties and does not say
    x-kubernetes-preserve-unknown-fields (what the API server does with unknown fields: prune them;
    here: reject them, so a misspelt field is an error instead of silently ignored)."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if "properties" in out:
        out["properties"] = {k: strict(v) for k, v in schema["properties"].items()}
        if "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    return out


@functools.cache
def crd_spec_schema(schemas: Path, crd: str) -> dict:
    doc = yaml.safe_load((schemas / "kuberay" / "v1.7.0" / "crd" / crd).read_text())
    (version,) = [v for v in doc["spec"]["versions"] if v["name"] == "v1"]
    assert version["served"] and version["storage"]
    return strict(version["schema"]["openAPIV3Schema"]["properties"]["spec"])


def errors(schema: dict, instance: Any) -> list[str]:
    return [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in Draft7Validator(schema).iter_errors(instance)
    ]


@pytest.fixture(scope="module")
def raycluster(yaml_docs) -> dict:
    (doc,) = yaml_docs(KUBERAY / "raycluster.yaml")
    return doc


@pytest.fixture(scope="module")
def rayjob(yaml_docs) -> dict:
    (doc,) = yaml_docs(KUBERAY / "rayjob-sweep.yaml")
    return doc


def test_raycluster_spec_is_valid(schemas: Path, raycluster: dict) -> None:
    assert raycluster["apiVersion"] == "ray.io/v1" and raycluster["kind"] == "RayCluster"
    assert errors(crd_spec_schema(schemas, "ray.io_rayclusters.yaml"), raycluster["spec"]) == []


def test_rayjob_spec_is_valid(schemas: Path, rayjob: dict) -> None:
    assert rayjob["apiVersion"] == "ray.io/v1" and rayjob["kind"] == "RayJob"
    assert errors(crd_spec_schema(schemas, "ray.io_rayjobs.yaml"), rayjob["spec"]) == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda s: s["headGroupSpec"].__setitem__("rayStartParam", {}), "rayStartParam"),
        (lambda s: s["workerGroupSpecs"][0].__setitem__("maxReplica", 3), "maxReplica"),
        (
            lambda s: s["headGroupSpec"]["template"]["spec"]["containers"][0].__setitem__(
                "imagePullPolice", "x"
            ),
            "imagePullPolice",
        ),
        (lambda s: s["workerGroupSpecs"][0].pop("groupName"), "groupName"),
    ],
    ids=["head-typo", "worker-typo", "container-typo", "worker-missing-name"],
)
def test_unknown_or_missing_fields_are_rejected(schemas: Path, raycluster: dict, edit, expected: str) -> None:
    spec = copy.deepcopy(raycluster["spec"])
    edit(spec)
    problems = errors(crd_spec_schema(schemas, "ray.io_rayclusters.yaml"), spec)
    assert any(expected in p for p in problems), problems


def test_cluster_shape(raycluster: dict) -> None:
    spec = raycluster["spec"]
    assert raycluster["metadata"] == {
        **raycluster["metadata"],
        "name": "workbench-ray",
        "namespace": "trading-system",
    }
    assert spec["enableInTreeAutoscaling"] is True
    (workers,) = spec["workerGroupSpecs"]
    assert (
        0 <= workers["minReplicas"] <= workers["replicas"] <= workers["maxReplicas"]
        and workers["maxReplicas"] > 1
    )
    head = spec["headGroupSpec"]
    assert head["rayStartParams"]["dashboard-host"] == "0.0.0.0"  # the Jobs API must be reachable from pods
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'"ray[default,tune]=={spec["rayVersion"]}"' in pyproject  # the Ray the image installs
    for group in (head, workers):
        (container,) = group["template"]["spec"]["containers"]
        assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
        env = {e["name"]: e for e in container["env"]}
        assert env["RAY_AUTH_MODE"]["value"] == "token"
        assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "workbench-ray-auth"
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert mounts["team-data"]["readOnly"] is True and "ray-results" in mounts


def test_rayjob_runs_the_example_on_the_cluster(raycluster: dict, rayjob: dict) -> None:
    spec = rayjob["spec"]
    assert spec["clusterSelector"] == {"ray.io/cluster": raycluster["metadata"]["name"]}
    assert "rayClusterSpec" not in spec  # uses the standing cluster
    script = spec["entrypoint"].split()[1]
    assert script == "/opt/workbench/src/infra/kuberay/jobs/sma_sweep.py"  # Dockerfile copies the repo there
    assert (ROOT / script.removeprefix("/opt/workbench/src/")).is_file()
    assert "COPY . /opt/workbench/src" in (ROOT / "infra" / "docker" / "Dockerfile").read_text()


def test_score_against_a_hand_calculation() -> None:
    sys.path.insert(0, str(KUBERAY / "jobs"))
    try:
        import sma_sweep
    finally:
        sys.path.pop(0)
    import numpy as np

    prices = np.array([1.0, 2.0, 3.0, 2.0, 1.0, 2.0])
    # SMA(2) = [nan, 1.5, 2.5, 2.5, 1.5, 1.5], so SMA(1) > SMA(2) at bars 1, 2 and 5. A signal is held over
    # the next bar: long for 2 -> 3 and 3 -> 2 (bar 5 has no next bar): log(3/2) + log(2/3) = 0, 2 of 5 bars.
    got = sma_sweep.score(1, 2, prices)
    moves = np.diff(np.log(prices))
    assert (
        got["total_log_return"]
        == pytest.approx(moves[1] + moves[2])
        == pytest.approx(np.log(3 / 2) + np.log(2 / 3))
    )
    assert got["exposure"] == pytest.approx(2 / 5)


@pytest.mark.slow
@pytest.mark.cluster
@pytest.mark.xdist_group("ray")
def test_example_sweep_runs_on_a_local_ray(tmp_path: Path) -> None:
    """The RayJob's entrypoint, run as the Jobs API would run it, on a local Ray."""
    env = {**os.environ, "RAY_ADDRESS": "", "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        [
            sys.executable,
            str(KUBERAY / "jobs" / "sma_sweep.py"),
            "--trials",
            "4",
            "--storage-path",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=400,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["trials"] == 4 and summary["errors"] == 0
    assert 5 <= summary["best"]["fast"] < 50 and 60 <= summary["best"]["slow"] < 200
    assert (tmp_path / "sma-sweep").is_dir()  # Tune wrote its results to the storage path
