"""infra for `workbench api` (infra/k8s/workbench-api.yaml, the workbench-api scrape job, the service's alert
rules and panels) consistent with each other and with the app: probes reach unauthenticated routes that
exist, ports and labels line up, the scrape job finds the pod, every series the rules read is produced."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from infra.test_monitoring import relabel  # tests/infra/test_monitoring.py: Prometheus' relabelling

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "infra" / "k8s" / "workbench-api.yaml"
MON = ROOT / "infra" / "monitoring"
SOURCES = " ".join(
    (ROOT / "workbench" / "service" / n).read_text() for n in ("_metrics.py", "_paper.py", "_app.py")
)


@pytest.fixture(scope="module")
def docs(yaml_docs) -> dict[str, dict]:
    return {d["kind"] + "/" + d["metadata"]["name"]: d for d in yaml_docs(MANIFEST)}


def _container(docs) -> dict:
    (container,) = docs["Deployment/workbench-api"]["spec"]["template"]["spec"]["containers"]
    return container


def test_probes_reach_open_routes_of_the_app(docs, tmp_path) -> None:
    from workbench.service import ServiceConfig, create_app

    container = _container(docs)
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["http"]
    args = container["args"]
    assert args[:1] == ["api"] and args[args.index("--port") + 1] == str(port)
    assert args[args.index("--host") + 1] == "0.0.0.0" and "--no-auth" not in args
    token = {e["name"]: e for e in container["env"]}["WORKBENCH_API_TOKEN"]
    assert token["valueFrom"]["secretKeyRef"] == {"name": "workbench-api-token", "key": "token"}
    app = create_app(ServiceConfig(home=tmp_path / "lake", token="x" * 32))
    with TestClient(app) as client:
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            get = container[probe]["httpGet"]
            assert get["port"] == "http"
            assert client.get(get["path"]).status_code == 200, probe  # no token: probes carry none
        assert client.get("/status").status_code == 401
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"


def test_service_policy_and_volume_select_the_deployment(docs) -> None:
    deployment = docs["Deployment/workbench-api"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    service = docs["Service/workbench-api"]["spec"]
    assert service["selector"].items() <= pod_labels.items()
    assert [(p["port"], p["targetPort"]) for p in service["ports"]] == [(8765, "http")]
    policy = docs["NetworkPolicy/workbench-api-ingress"]["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert [p["port"] for rule in policy["ingress"] for p in rule["ports"]] == [8765]
    sources = policy["ingress"][0]["from"]
    assert {"kubernetes.io/metadata.name": "monitoring"} in [
        s.get("namespaceSelector", {}).get("matchLabels") for s in sources
    ]
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["workspace"]["persistentVolumeClaim"]["claimName"] == "workbench-api-workspace"
    assert "PersistentVolumeClaim/workbench-api-workspace" in docs
    home = {e["name"]: e.get("value") for e in _container(docs)["env"]}["WORKBENCH_HOME"]
    mounts = {m["name"]: m["mountPath"] for m in _container(docs)["volumeMounts"]}
    assert mounts["workspace"] == home
    ollama = docs["NetworkPolicy/ollama-from-workbench-api"]["spec"]["ingress"][0]["from"][0]
    assert ollama["podSelector"]["matchLabels"].items() <= pod_labels.items()


def test_scrape_job_finds_the_api_pod_and_only_it(docs) -> None:
    scrape = {j["job_name"]: j for j in yaml.safe_load((MON / "scrape-configs.yaml").read_text())}
    template = docs["Deployment/workbench-api"]["spec"]["template"]["metadata"]

    def meta(labels: dict, annotations: dict) -> dict:
        out = {
            "__address__": "10.42.1.9:8765",
            "__metrics_path__": "/metrics",
            "__meta_kubernetes_pod_name": "workbench-api-7d9f",
        }
        out |= {f"__meta_kubernetes_pod_label_{re.sub(r'[./-]', '_', k)}": v for k, v in labels.items()}
        out |= {
            f"__meta_kubernetes_pod_annotation_{re.sub(r'[./-]', '_', k)}": v for k, v in annotations.items()
        }
        return out

    pod = meta(template["labels"], template["annotations"])
    target = relabel(pod, scrape["workbench-api"]["relabel_configs"])
    port = {p["name"]: p["containerPort"] for p in _container(docs)["ports"]}["http"]
    assert target["__address__"] == f"10.42.1.9:{port}" and target["__metrics_path__"] == "/metrics"
    assert target["pod"] == "workbench-api-7d9f"
    assert relabel(pod, scrape["workbench"]["relabel_configs"]) is None  # not a user pod
    user = meta(
        {"component": "singleuser-server"}, {"prometheus.io/scrape": "true", "prometheus.io/port": "9464"}
    )
    assert relabel(user, scrape["workbench-api"]["relabel_configs"]) is None


def test_every_series_the_service_rules_and_panels_read_is_produced() -> None:
    groups = {g["name"]: g for g in yaml.safe_load((MON / "workbench-alerts.yml").read_text())["groups"]}
    exprs = [r["expr"] for r in groups["workbench.service"]["rules"]]
    dashboard = json.loads((MON / "grafana-dashboard.json").read_text())
    exprs += [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    names = set(re.findall(r"\bworkbench_(?:http|paper)_[a-z_]+", " ".join(exprs)))
    assert {
        "workbench_paper_kill_switch",
        "workbench_paper_bars_since_decision",
        "workbench_http_requests_total",
    } <= names
    for name in names:
        family = re.sub(r"_(total|bucket|sum|count)$", "", name)
        assert f'"{family}"' in SOURCES, f"{name}: no collector of the service produces it"
    alerts = {r["alert"] for r in groups["workbench.service"]["rules"] if "alert" in r}
    assert alerts == {
        "WorkbenchApiErrorRate",
        "WorkbenchApiDown",
        "WorkbenchKillSwitchTripped",
        "WorkbenchPaperNoDecision",
    }
