"""RayCluster and RayJob against the KubeRay v1.7.0 CRDs (unknown fields rejected), and the example sweep."""

from __future__ import annotations

import copy
import functools
import json
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


def _job():
    sys.path.insert(0, str(KUBERAY / "jobs"))
    try:
        import sma_sweep
    finally:
        sys.path.pop(0)
    return sma_sweep


def test_the_example_job_is_the_products_optimisation(tmp_path: Path, monkeypatch, capsys) -> None:
    """The job carries no backtest of its own: it hands its arguments to workbench.optimize.run_optimize
    (what `workbench optimize` and the notebooks call), on bars of the workspace (a sample series loaded
    into it when missing), and prints the outcome's JSON."""
    import workbench.optimize
    from workbench.optimize import OptimizeOutcome
    from workbench.optimize.tune import Objective

    job = _job()
    text = (KUBERAY / "jobs" / "sma_sweep.py").read_text()
    assert "run_optimize(" in text and "np.log" not in text and "import numpy" not in text
    calls: list[tuple[tuple, dict]] = []

    def fake(*args, **kwargs):
        calls.append((args, kwargs))
        front = [{"trial": 3, "params": {"fast": 10, "slow": 60}, "objectives": {"sharpe": 0.4, "max_drawdown_pct": 9.0}},
                 {"trial": 7, "params": {"fast": 20, "slow": 90}, "objectives": {"sharpe": 0.9, "max_drawdown_pct": 20.0}}]  # fmt: skip
        return OptimizeOutcome(1, 64, front, [], ["node-a", "node-b"], 1.5)

    monkeypatch.setattr(workbench.optimize, "run_optimize", fake)
    home = tmp_path / "sweeps"
    summary = job.main(["--workspace", str(home), "--algo", "nsga2", "--trials", "64", "--param", "fast=5:20:5",
                        "--param", "slow=60:90:30", "--commission", "2bp", "--direction", "both",
                        "--stop-loss", "2atr", "--cash", "5000"])  # fmt: skip
    ((args, kwargs),) = calls
    ws, strategy, data, grid, objectives = args
    assert Path(ws.home) == home.resolve() and (strategy, data) == ("sma_cross", "GOOG:1d")
    assert ws.bars("GOOG:1d").height > 2000  # the sample series, loaded into the job's workspace
    assert grid == {"fast": [5, 10, 15, 20], "slow": [60, 90]}
    assert objectives == (Objective("sharpe", "max"), Objective("max_drawdown_pct", "min"))
    assert kwargs == {"algo": "nsga2", "trials": 64, "walk_forward": 0, "seed": 7, "cash": 5000.0,
                      "fill": "next_open", "direction": "both", "commission": "2bp", "spread": "0",
                      "slippage": "0", "size": "100%", "stop_loss": "2atr", "take_profit": None,
                      "trailing_stop": None, "contract": None}  # fmt: skip
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed == summary and printed["optimization_id"] == 1 and printed["nodes"] == ["node-a", "node-b"]
    assert printed["best"] == {"fast": 20, "slow": 90}  # the front's best on the first objective
    assert printed["workspace"] == str(home.resolve())


def test_the_jobs_flags_are_workbench_optimizes() -> None:
    """Every engine-setting flag of the job means what it means to `workbench optimize`."""
    from workbench.cli import build_parser

    job = _job()
    cli = build_parser()._subparsers._group_actions[0].choices["optimize"]  # noqa: SLF001
    flags = {o for a in cli._actions for o in a.option_strings}  # noqa: SLF001
    mine = {o for a in job.parser()._actions for o in a.option_strings}  # noqa: SLF001
    settings = {"--" + k.replace("_", "-") for k in job.ENGINE} | {"--cash"}
    assert settings <= flags and settings <= mine
    assert mine - flags == {
        "--workspace",
        "--storage-path",
        "--name",
    }  # where to store: the CLI has WORKBENCH_HOME


@pytest.mark.parametrize(
    ("objective", "want"),
    [("sharpe:max", {"p": 2}), ("max_drawdown_pct:min", {"p": 1}), ("profit_factor:max", {"p": 3})],
)
def test_the_jobs_best_is_the_fronts_best_on_the_first_objective(objective: str, want: dict) -> None:
    from workbench.optimize import parse_objectives

    front = [{"params": {"p": 1}, "objectives": {"sharpe": 0.1, "max_drawdown_pct": 3.0, "profit_factor": 2.0}},
             {"params": {"p": 2}, "objectives": {"sharpe": 0.9, "max_drawdown_pct": None, "profit_factor": 1.5}},
             {"params": {"p": 3}, "objectives": {"sharpe": 0.5, "max_drawdown_pct": 4.0, "profit_factor": None}}]  # fmt: skip
    job = _job()
    (first,) = parse_objectives([objective])
    assert (
        job.best({"folds": [], "pareto": front}, first) == want
    )  # null: +inf when maximised, skipped when not
    folds = [{"params": {"p": 9}}, {"params": {"p": 8}}]
    assert job.best({"folds": folds, "pareto": front}, first) == {"p": 8}  # walk-forward: the last fold's
