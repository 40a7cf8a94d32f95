# JupyterHub configuration for the local hub (infra/local-hub/run_hub.py writes the environment).
#
# A real JupyterHub on 127.0.0.1 with configurable-http-proxy, the local process spawner and the
# "Trading Workbench" kernel. Authentication is *the same* as on K3s: the authenticator settings
# (hub.config) and the secret-reading snippet (hub.extraConfig) are read from
# infra/helm/jupyterhub/values.yaml and applied here, with the passwords in the same environment
# variables the hub pod gets from the `workbench-hub-auth` Secret.
import os
import sys
from pathlib import Path

import yaml

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STATE = Path(os.environ["WORKBENCH_LOCAL_HUB_STATE"])
PORT = int(os.environ["WORKBENCH_LOCAL_HUB_PORT"])
HUB_PORT = int(os.environ["WORKBENCH_LOCAL_HUB_HUB_PORT"])
PROXY_API_PORT = int(os.environ["WORKBENCH_LOCAL_HUB_PROXY_API_PORT"])
JUPYTER_DATA = os.environ["WORKBENCH_LOCAL_HUB_JUPYTER_PATH"]  # <prefix>/share/jupyter with the kernel
# the user pods' /etc/jupyter files from the Helm values (singleuser.extraFiles): no news, no update check
JUPYTER_CONFIG = os.environ["WORKBENCH_LOCAL_HUB_JUPYTER_CONFIG"]

# -- network: everything on loopback -------------------------------------------------------------
c.JupyterHub.bind_url = f"http://127.0.0.1:{PORT}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = HUB_PORT
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PROXY_API_PORT}"
c.ConfigurableHTTPProxy.command = [os.environ["WORKBENCH_LOCAL_HUB_PROXY"]]
c.ConfigurableHTTPProxy.auth_token = os.environ["CONFIGPROXY_AUTH_TOKEN"]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
c.ConfigurableHTTPProxy.should_start = True

# -- state ---------------------------------------------------------------------------------------
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops the user servers it started
c.JupyterHub.cleanup_proxy = True

# -- authentication: the K3s values, applied verbatim ---------------------------------------------
_hub = yaml.safe_load((REPO / "infra" / "helm" / "jupyterhub" / "values.yaml").read_text())["hub"]
for _cls, _traits in _hub["config"].items():
    for _name, _value in _traits.items():
        setattr(getattr(c, _cls), _name, _value)
for _key, _snippet in sorted(_hub.get("extraConfig", {}).items()):
    exec(compile(_snippet, f"infra/helm/jupyterhub/values.yaml:hub.extraConfig.{_key}", "exec"), {"c": c})

# -- automation: a service whose token creates users and starts/stops/uses their servers ----------
c.JupyterHub.services = [{"name": "workbench-admin", "api_token": os.environ["WORKBENCH_HUB_SERVICE_TOKEN"]}]
c.JupyterHub.load_roles = [
    {
        "name": "workbench-admin",
        "description": "Create users, start/stop their servers and run kernels on them (local hub tests)",
        "scopes": ["admin:users", "admin:servers", "access:servers"],
        "services": ["workbench-admin"],
    }
]

# -- spawner: local processes, the workbench environment -----------------------------------------
c.JupyterHub.spawner_class = "simple"  # SimpleLocalProcessSpawner: a LocalProcessSpawner without unix users
c.SimpleLocalProcessSpawner.home_dir_template = str(STATE / "home" / "{username}")
c.Spawner.cmd = [str(Path(sys.executable).with_name("jupyterhub-singleuser"))]
c.Spawner.args = ["--allow-root"] if os.geteuid() == 0 else []
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
# The workbench's own settings pass from the shell that started the hub to the user servers.
c.Spawner.env_keep.extend(  # added to JupyterHub's default list (PATH, VIRTUAL_ENV, LANG, ...)
    [
        "WORKBENCH_LOCK_WAIT",
        "OLLAMA_HOST",
        "OLLAMA_MODEL",
        "CHROMA_HOST",
        "RAY_ADDRESS",
    ]
)
# The repository first on the kernels' path: with the editable install (`make setup`) the package is found
# by setuptools' finder, after the path, so the workspace folder ~/workbench beside the user's notebooks
# would be imported as a namespace package `workbench` instead (the image installs it regularly).
_PYTHONPATH = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
c.Spawner.environment = {
    "PYTHONPATH": _PYTHONPATH,
    "JUPYTER_PATH": JUPYTER_DATA,
    "JUPYTER_CONFIG_PATH": JUPYTER_CONFIG,
    "WORKBENCH_HOME": lambda spawner: str(STATE / "home" / spawner.user.name / "workbench"),
    "WORKBENCH_HUB_LOCAL": "1",
}
