"""The one way the workbench connects to Ray: a cluster at an address, or a local Ray started robustly.

Used by optimisation (:mod:`workbench.optimize.tune`), ML hyperparameter search (:mod:`workbench.ml.train`)
and the optimisation widget; it sits low (beside ``config``) so each of them can import it.
"""

from __future__ import annotations

import time

from workbench.errors import ConfigError

__all__ = ["LOCAL_START_ATTEMPTS", "connect_ray"]

LOCAL_START_ATTEMPTS = 3  # a local Ray that times out while starting (a busy machine) is started again


def connect_ray(address: str | None) -> tuple[bool, str | None]:
    """``ray.init`` unless already connected; returns (whether this call connected, dashboard URL)."""
    import ray

    if address and address.strip().lower().startswith(("http://", "https://")):
        raise ConfigError(
            f"--address {address}: that is a Ray Jobs API (dashboard) address; ray.init needs "
            "ray://HOST:10001 or HOST:6379 — or submit the whole command with the Ray Jobs API: "
            f"ray job submit --address {address} -- workbench optimize ... (see docs/optimize.md)"
        )
    if ray.is_initialized():
        return False, None
    from workbench.config import settings

    dashboard = settings().ray_dashboard
    for attempt in range(1, LOCAL_START_ATTEMPTS + 1):
        try:
            if address:
                ctx = ray.init(address=address, log_to_driver=False, logging_level="ERROR")
            else:
                ctx = ray.init(include_dashboard=dashboard, log_to_driver=False, logging_level="ERROR")
            break
        except Exception as e:  # noqa: BLE001 - ray.init raises bare Exception when its node times out
            msg = " ".join(str(e).split())[:300]
            if address or attempt == LOCAL_START_ATTEMPTS or "timed out during startup" not in msg:
                raise ConfigError(
                    f"--address {address or '(local)'}: cannot start/connect to Ray ({msg})"
                ) from None
            # a local node that missed Ray's fixed start-up windows on a busy machine (its raylet gives
            # the dashboard agent 15 s, ray.init the raylet 30 s): clean up and start it again
            ray.shutdown()
            time.sleep(2 * attempt)
    url = getattr(ctx, "dashboard_url", None) or None
    if url and "://" not in url:
        url = f"http://{url}"
    return True, url
