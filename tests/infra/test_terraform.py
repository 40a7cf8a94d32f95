"""infra/terraform: parsed with python-hcl2; variables, providers, scripts and examples are consistent."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcl2
import pytest

ROOT = Path(__file__).resolve().parents[2]
TF = ROOT / "infra" / "terraform"


def unquote(node: Any) -> Any:
    """python-hcl2 keeps HCL's quotes on block labels and strings; drop them and its bookkeeping keys."""
    if isinstance(node, dict):
        return {unquote(k): unquote(v) for k, v in node.items() if k not in ("__is_block__", "__comments__")}
    if isinstance(node, list):
        return [unquote(x) for x in node]
    if isinstance(node, str) and len(node) >= 2 and node[0] == node[-1] == '"':
        return node[1:-1]
    return node


@pytest.fixture(scope="module")
def tf() -> dict[str, dict]:
    files = sorted(TF.glob("*.tf"))
    assert {f.name for f in files} == {"versions.tf", "variables.tf", "main.tf", "outputs.tf"}
    return {f.name: unquote(hcl2.load(f.open())) for f in files}


def _blocks(tf: dict[str, dict], kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for parsed in tf.values():
        for block in parsed.get(kind, []):
            for key, body in block.items():  # resource blocks are {type: {name: body}}: merge per type
                if kind == "resource":
                    out.setdefault(key, {}).update(body)
                else:
                    out[key] = body
    return out


def _text() -> str:
    return "\n".join(f.read_text() for f in sorted(TF.glob("*.tf")))


def test_providers_are_pinned(tf: dict[str, dict]) -> None:
    (terraform,) = tf["versions.tf"]["terraform"]
    assert terraform["required_version"].startswith(">=")
    (providers,) = terraform["required_providers"]
    assert providers["random"]["source"] == "hashicorp/random"
    assert re.fullmatch(r"~> \d+\.\d+", providers["random"]["version"])
    used = {m for m in re.findall(r'resource\s+"([a-z0-9]+)_', _text())} - {"terraform"}
    assert used <= set(providers)  # every provider a resource needs is declared


def test_every_variable_is_declared_described_and_used(tf: dict[str, dict]) -> None:
    variables = _blocks(tf, "variable")
    assert set(variables) == {"master", "workers", "ssh_private_key_path", "lan_cidr", "k3s_version"}
    for name, body in variables.items():
        assert body["description"] and body["type"], name
    referenced = set(re.findall(r"\bvar\.([a-z0-9_]+)", _text()))
    assert referenced == set(variables)  # nothing undeclared, nothing unused


def test_validations_match_the_scripts(tf: dict[str, dict]) -> None:
    variables = _blocks(tf, "variable")
    conditions = " ".join(v["condition"] for body in variables.values() for v in body.get("validation", []))
    assert 'contains(["small", "large"], w.size)' in conditions
    worker_script = (ROOT / "infra" / "k3s" / "add-worker.sh").read_text()
    assert "[[ $SIZE == small || $SIZE == large ]]" in worker_script
    lib = (ROOT / "infra" / "k3s" / "lib.sh").read_text()
    default = variables["k3s_version"]["default"]
    assert f"K3S_VERSION=${{K3S_VERSION:-{default}}}" in lib
    pattern = re.search(r'regex\("(.+?)", var\.k3s_version\)', _text()).group(1).replace("\\\\", "\\")
    assert re.fullmatch(pattern, default) and not re.fullmatch(pattern, "1.33.5")


def test_nodes_run_the_repository_scripts(tf: dict[str, dict]) -> None:
    resources = _blocks(tf, "resource")
    assert set(resources["terraform_data"]) == {"master", "worker"}
    master, worker = resources["terraform_data"]["master"], resources["terraform_data"]["worker"]
    assert worker["depends_on"] == ["${terraform_data.master}"]
    assert worker["for_each"] == "${local.workers}"
    commands = " ".join(
        cmd
        for res in (master, worker)
        for prov in res["provisioner"]
        for kind, body in prov.items()
        if kind == "remote-exec"
        for cmd in body["inline"]
    )
    for script in ("setup-master.sh", "add-worker.sh"):
        assert f"/{script}" in commands
        assert (ROOT / "infra" / "k3s" / script).is_file()
    for flag in ("--node-ip", "--lan", "--token-file", "--server", "--size", "--no-image"):
        assert flag in commands  # --no-image: the workers are joined before deploy.sh builds the image
    (locals_,) = tf["main.tf"]["locals"]
    assert locals_["scripts_dir"] == "${path.module}/../k3s"
    for f in re.findall(r'"([a-z-]+\.sh)"', (TF / "main.tf").read_text()):
        assert (ROOT / "infra" / "k3s" / f).is_file(), f
    # The token is never written into a command line or an output.
    assert "random_password.k3s_token.result" not in commands
    assert "k3s_token" not in (TF / "outputs.tf").read_text()


def test_example_tfvars_cover_the_required_inputs(tf: dict[str, dict]) -> None:
    example = unquote(hcl2.load((TF / "terraform.tfvars.example").open()))
    variables = _blocks(tf, "variable")
    required = {name for name, body in variables.items() if "default" not in body}
    assert required <= set(example) <= set(variables)
    assert len(example["workers"]) == 2  # three machines: a master and two workers
    addresses = [example["master"]["address"], *(w["address"] for w in example["workers"])]
    assert len(set(addresses)) == 3
    assert all(w["size"] in ("small", "large") for w in example["workers"])


def test_outputs(tf: dict[str, dict]) -> None:
    outputs = _blocks(tf, "output")
    assert {"kube_api", "hub_url", "nodes", "next_step"} <= set(outputs)
    assert all(o["description"] for o in outputs.values())
    assert "deploy.sh" in outputs["next_step"]["value"]
