"""Monitoring: alert rules (promtool check + unit tests), scrape configs, the Grafana dashboard."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MON = ROOT / "infra" / "monitoring"
RULES = MON / "workbench-alerts.yml"
METRICS = {
    "workbench_backtests_total",
    "workbench_sweep_trials_total",
    "workbench_rag_query_duration_seconds",
    "workbench_ingest_files_total",
    "workbench_ingest_rows_total",
}


def _promtool(tool, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([tool("promtool"), *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_rules_pass_promtool_check(tool) -> None:
    result = _promtool(tool, "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rules_unit_tests_pass(tool) -> None:
    """infra/monitoring/tests/workbench-alerts_test.yml: firing and silent cases, values worked out by hand."""
    result = _promtool(tool, "test", "rules", "workbench-alerts_test.yml", cwd=MON / "tests")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rule_unit_tests_can_fail(tool, tmp_path: Path) -> None:
    """A wrong expectation in the unit tests is caught (the 29 s p95 changed to 28 s)."""
    text = (MON / "tests" / "workbench-alerts_test.yml").read_text()
    assert "value: 29\n" in text
    broken = tmp_path / "broken_test.yml"
    broken.write_text(
        text.replace("value: 29\n", "value: 28\n").replace("../workbench-alerts.yml", str(RULES))
    )
    result = _promtool(tool, "test", "rules", str(broken))
    assert result.returncode != 0 and "FAILED" in result.stdout + result.stderr


def test_every_workbench_metric_is_alerted_on_or_recorded() -> None:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    exprs = " ".join(rule["expr"] for g in groups for rule in g["rules"])
    for metric in METRICS:
        if metric != "workbench_backtests_total":  # a volume, charted, not an alert condition
            assert metric in exprs, metric
    alerts = [r for g in groups for r in g["rules"] if "alert" in r]
    for alert in alerts:
        assert alert["labels"]["severity"] in {"info", "warning", "critical"}
        assert alert["annotations"]["summary"]


def _static(scrape_configs: list[dict]) -> list[dict]:
    """The scrape configs with service discovery swapped for a static target (Debian's promtool is built
    without Kubernetes discovery); everything else - relabelling, intervals - is what promtool checks."""
    out = []
    for job in scrape_configs:
        job = {k: v for k, v in job.items() if k != "kubernetes_sd_configs"}
        job["static_configs"] = [{"targets": ["127.0.0.1:9464"]}]
        out.append(job)
    return out


def test_scrape_configs_pass_promtool_check_config(tool, tmp_path: Path) -> None:
    scrape = yaml.safe_load((MON / "scrape-configs.yaml").read_text())
    assert [j["job_name"] for j in scrape] == ["workbench", "ray", "workbench-api"]
    assert all(j["kubernetes_sd_configs"][0]["namespaces"]["names"] == ["trading-system"] for j in scrape)
    config = {
        "global": {"scrape_interval": "30s", "evaluation_interval": "30s"},
        "rule_files": [str(RULES)],
        "scrape_configs": _static(scrape),
    }
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = _promtool(tool, "check", "config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def relabel(labels: dict[str, str], configs: list[dict]) -> dict[str, str] | None:
    """Prometheus' relabelling (keep/drop/replace; anchored regexes, ';' separator, default regex (.*))."""
    labels = dict(labels)
    for cfg in configs:
        value = ";".join(labels.get(s, "") for s in cfg.get("source_labels", []))
        regex = re.compile(cfg.get("regex", "(.*)"))
        m = regex.fullmatch(value)
        action = cfg.get("action", "replace")
        if action == "keep" and not m:
            return None
        if action == "drop" and m:
            return None
        if action == "replace" and m:
            replacement = re.sub(r"\$(\d+)", r"\\\1", cfg.get("replacement", "$1"))
            labels[cfg["target_label"]] = m.expand(replacement)
    return labels


def _pod(**labels: str) -> dict[str, str]:
    return {"__address__": "10.42.1.7:8888", "__metrics_path__": "/metrics", **labels}


def test_workbench_job_scrapes_annotated_user_pods(z2jh_values: dict) -> None:
    scrape = {j["job_name"]: j for j in yaml.safe_load((MON / "scrape-configs.yaml").read_text())}
    annotations = z2jh_values["singleuser"]["extraAnnotations"]
    meta = {
        f"__meta_kubernetes_pod_annotation_{k.replace('.', '_').replace('/', '_')}": v
        for k, v in annotations.items()
    }
    user_pod = _pod(
        __meta_kubernetes_pod_label_component="singleuser-server",
        __meta_kubernetes_pod_annotation_hub_jupyter_org_username="alice",
        __meta_kubernetes_pod_name="jupyter-alice",
        **meta,
    )
    target = relabel(user_pod, scrape["workbench"]["relabel_configs"])
    port = z2jh_values["singleuser"]["extraEnv"]["WORKBENCH_METRICS_PORT"]
    assert target["__address__"] == f"10.42.1.7:{port}" and target["__metrics_path__"] == "/metrics"
    assert target["user"] == "alice" and target["pod"] == "jupyter-alice"
    # The user pods' network policy lets Prometheus in on that port.
    ingress = z2jh_values["singleuser"]["networkPolicy"]["ingress"]
    assert [p["port"] for rule in ingress for p in rule["ports"]] == [int(port)]
    # Hub pods and unannotated pods are not scraped by this job.
    assert (
        relabel(
            _pod(__meta_kubernetes_pod_label_component="hub", **meta), scrape["workbench"]["relabel_configs"]
        )
        is None
    )
    unannotated = _pod(__meta_kubernetes_pod_label_component="singleuser-server")
    assert relabel(unannotated, scrape["workbench"]["relabel_configs"]) is None


def test_ray_job_scrapes_the_metrics_port_of_workbench_ray(yaml_docs) -> None:
    scrape = {j["job_name"]: j for j in yaml.safe_load((MON / "scrape-configs.yaml").read_text())}
    ray = yaml_docs(ROOT / "infra" / "kuberay" / "raycluster.yaml")[0]
    (head,) = ray["spec"]["headGroupSpec"]["template"]["spec"]["containers"]
    metrics_port = next(p for p in head["ports"] if p["name"] == "metrics")["containerPort"]
    assert str(metrics_port) == ray["spec"]["headGroupSpec"]["rayStartParams"]["metrics-export-port"]
    pod = _pod(
        __meta_kubernetes_pod_label_ray_io_cluster=ray["metadata"]["name"],
        __meta_kubernetes_pod_label_ray_io_node_type="head",
        __meta_kubernetes_pod_container_port_name="metrics",
        __meta_kubernetes_pod_name="workbench-ray-head-abc",
    )
    target = relabel(pod, scrape["ray"]["relabel_configs"])
    assert target["ray_node_type"] == "head"
    assert (
        relabel(
            {**pod, "__meta_kubernetes_pod_container_port_name": "dashboard"},
            scrape["ray"]["relabel_configs"],
        )
        is None
    )


@pytest.fixture(scope="module")
def z2jh_values() -> dict:
    return yaml.safe_load((ROOT / "infra" / "helm" / "jupyterhub" / "values.yaml").read_text())


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads((MON / "grafana-dashboard.json").read_text())


def _exprs(dashboard: dict) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_dashboard_structure(dashboard: dict) -> None:
    assert dashboard["uid"] == "trading-workbench" and dashboard["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "user"} <= variables
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        g = panel["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not (mine & cells), f"panel {panel['id']} overlaps another"
        cells |= mine
        assert all(t["refId"] for t in panel["targets"])


def test_dashboard_charts_every_metric(dashboard: dict) -> None:
    text = " ".join(_exprs(dashboard))
    for metric in METRICS:
        assert re.search(rf"\b{metric}(_bucket|_sum|_count)?\{{", text), metric
    recorded = {
        r["record"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "record" in r
    }
    used = set(re.findall(r"workbench:[a-z0-9_:]+", text))
    assert used <= recorded  # recording rules the dashboard reads exist


def test_dashboard_queries_are_valid_promql(tool, dashboard: dict, tmp_path: Path) -> None:
    """Each query, with Grafana's variables filled in, is checked by promtool as a recording rule."""
    exprs = [e.replace("$__rate_interval", "5m").replace("$user", ".*") for e in _exprs(dashboard)]
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"dashboard:q{i}", "expr": e} for i, e in enumerate(exprs)],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules))
    result = _promtool(tool, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout
    broken = tmp_path / "broken.yml"
    broken.write_text(
        yaml.safe_dump({"groups": [{"name": "x", "rules": [{"record": "x:y", "expr": "sum(rate(x[5m])"}]}]})
    )
    assert _promtool(tool, "check", "rules", str(broken)).returncode != 0


def test_deploy_wraps_the_rules_into_a_prometheusrule(tmp_path: Path) -> None:
    """Run deploy.sh's own PrometheusRule command (from its --dry-run output) without kubectl."""
    out = subprocess.run(
        [
            "bash",
            str(ROOT / "infra" / "k3s" / "deploy.sh"),
            "--dry-run",
            "--nfs-server",
            "10.0.0.10",
            "--skip-image",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    (line,) = [ln for ln in out.stdout.splitlines() if "kind: PrometheusRule" in ln]
    command = line.removeprefix("+ ").removesuffix(" | kubectl apply -f -")
    produced = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    doc = yaml.safe_load(produced)
    assert doc["apiVersion"] == "monitoring.coreos.com/v1" and doc["kind"] == "PrometheusRule"
    assert doc["metadata"]["namespace"] == "monitoring"
    assert doc["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]
