#!/usr/bin/env python3
"""Start a real JupyterHub on 127.0.0.1 with the Trading Workbench kernel.

    .venv/bin/python infra/local-hub/run_hub.py                 # http://127.0.0.1:8000
    .venv/bin/python infra/local-hub/run_hub.py --port 8123 --state-dir /tmp/hub

JupyterHub (PyPI) with configurable-http-proxy (npm), the local process spawner, the "Trading Workbench"
kernel of this environment, and the same SharedPasswordAuthenticator as the K3s values. The hub process
replaces this one (same PID); Ctrl-C or SIGTERM stops the hub, the proxy and the user servers.

Secrets (the team and admin passwords, the proxy token and a service token with admin scopes for
scripts and tests) come from the environment when set (WORKBENCH_HUB_USER_PASSWORD,
WORKBENCH_HUB_ADMIN_PASSWORD, WORKBENCH_HUB_SERVICE_TOKEN, CONFIGPROXY_AUTH_TOKEN), otherwise they are
generated once into <state-dir>/secrets.json (mode 0600). Log in as "hubadmin" with the admin password;
users an admin adds log in with the team password.

configurable-http-proxy is looked up as --proxy, then $WORKBENCH_CHP, then on PATH, then in
.venv/chp (where `npm install --prefix .venv/chp configurable-http-proxy@5.3.0` puts it).

The user servers read the Jupyter configuration the K3s pods get (singleuser.extraFiles under
/etc/jupyter in infra/helm/jupyterhub/values.yaml: no news or update check, no announcements prompt),
written into <state-dir>/jupyter-config and put first on their JUPYTER_CONFIG_PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CONFIG = HERE / "jupyterhub_config.py"
VALUES = REPO / "infra" / "helm" / "jupyterhub" / "values.yaml"
JUPYTER_ETC = "/etc/jupyter/"  # where the K3s pods mount the Jupyter configuration (a config path)
CHP_NPM = "configurable-http-proxy@5.3.0"
LOCAL_CHP = REPO / ".venv" / "chp" / "node_modules" / ".bin" / "configurable-http-proxy"

_SECRETS = {  # environment variable -> number of random bytes (hex-encoded)
    "WORKBENCH_HUB_USER_PASSWORD": 12,
    "WORKBENCH_HUB_ADMIN_PASSWORD": 24,
    "WORKBENCH_HUB_SERVICE_TOKEN": 32,
    "CONFIGPROXY_AUTH_TOKEN": 32,
}


def find_proxy(explicit: str | None = None) -> Path:
    """The configurable-http-proxy executable, or SystemExit naming how to install it."""
    candidates = [
        explicit,
        os.environ.get("WORKBENCH_CHP"),
        shutil.which("configurable-http-proxy"),
        LOCAL_CHP,
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise SystemExit(
        "error: configurable-http-proxy not found; install it with "
        f"`npm install --prefix .venv/chp {CHP_NPM}` (needs node and npm: apt-get install nodejs npm)"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load_secrets(state: Path) -> dict[str, str]:
    """Secrets from the environment, else from (or generated into) <state>/secrets.json."""
    path = state / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    values = {k: os.environ.get(k) or stored.get(k) or secrets.token_hex(n) for k, n in _SECRETS.items()}
    if values != stored:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(values, f, indent=1)
    return values


def jupyter_config_files(values: Path = VALUES) -> dict[str, Any]:
    """The user pods' Jupyter configuration files from the Helm values: ``{path under /etc/jupyter: data}``."""
    import yaml

    extra = yaml.safe_load(values.read_text())["singleuser"].get("extraFiles") or {}
    return {
        f["mountPath"].removeprefix(JUPYTER_ETC): f["data"]
        for f in extra.values()
        if f["mountPath"].startswith(JUPYTER_ETC) and f["mountPath"].endswith(".json") and "data" in f
    }


def write_jupyter_config(folder: Path, values: Path = VALUES) -> Path:
    """Write :func:`jupyter_config_files` into ``folder`` (a directory for JUPYTER_CONFIG_PATH); returns it."""
    for rel, data in jupyter_config_files(values).items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(data, indent=1) + "\n")
    return folder


def prepare(state: Path, port: int, proxy: Path) -> dict[str, str]:
    """Create the state folder, install the kernel and the user servers' Jupyter configuration into it;
    returns the hub's environment."""
    from workbench.kernel import install_kernel

    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o700)
    (state / "home").mkdir(exist_ok=True)
    kernel_dir = install_kernel(prefix=state / "jupyter")
    config_dir = write_jupyter_config(state / "jupyter-config")
    env = dict(os.environ)
    env.update(load_secrets(state))
    env.update(
        {
            "WORKBENCH_LOCAL_HUB_STATE": str(state),
            "WORKBENCH_LOCAL_HUB_PORT": str(port),
            "WORKBENCH_LOCAL_HUB_HUB_PORT": str(free_port()),
            "WORKBENCH_LOCAL_HUB_PROXY_API_PORT": str(free_port()),
            "WORKBENCH_LOCAL_HUB_PROXY": str(proxy),
            "WORKBENCH_LOCAL_HUB_JUPYTER_PATH": str(kernel_dir.parents[1]),
            "WORKBENCH_LOCAL_HUB_JUPYTER_CONFIG": str(config_dir),
        }
    )
    return env


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="public port on 127.0.0.1 (default 8000)")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=REPO / ".venv" / "local-hub",
        help="database, cookie secret, secrets.json, kernel spec and user homes (default .venv/local-hub)",
    )
    parser.add_argument("--proxy", help="path of configurable-http-proxy")
    parser.add_argument("--debug", action="store_true", help="JupyterHub debug logging")
    args = parser.parse_args(argv)

    proxy = find_proxy(args.proxy)
    state = args.state_dir.resolve()
    env = prepare(state, args.port, proxy)
    cmd = [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)]
    if args.debug:
        cmd.append("--debug")
    print(
        f"local hub: http://127.0.0.1:{args.port}/  (state {state}, passwords in {state / 'secrets.json'})",
        file=sys.stderr,
        flush=True,
    )
    os.chdir(state)
    os.execvpe(cmd[0], cmd, env)


if __name__ == "__main__":
    main()
