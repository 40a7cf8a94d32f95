"""The service's settings: one frozen config built from :mod:`workbench.config` and the command line."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from workbench.config import Settings, settings
from workbench.errors import ConfigError

__all__ = ["ServiceConfig", "MIN_TOKEN_CHARS", "UPLOAD_SUFFIXES"]

MIN_TOKEN_CHARS = 32  # an HS256 secret shorter than its 256-bit hash is guessable; `openssl rand -hex 32`
# What the ingest parsers read (docs/formats.md): reports, statements, histories, optimizer results,
# parameter sets, bars. Anything else is refused before it is stored.
UPLOAD_SUFFIXES = (".htm", ".html", ".xml", ".csv", ".txt", ".json", ".cbotset", ".xlsx", ".parquet")


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceConfig:
    """How ``workbench api`` runs.

    Parameters
    ----------
    home:
        the workspace folder (``None``: ``$WORKBENCH_HOME``).
    token:
        the bearer secret clients present (or sign an HS256 JWT with); required unless ``auth`` is off.
    auth:
        ``False`` only with ``workbench api --no-auth`` (loopback only; every caller is ``anonymous``).
    rate:
        requests per second per client on authenticated routes (token bucket; ``burst`` requests at
        once, default ``2 * rate``); 0 turns the limit off.
    max_upload_bytes, max_body_bytes:
        largest upload (``POST /ingest``) and largest other request body.
    max_combos:
        most parameter combinations one ``POST /sweeps`` or ``POST /optimizations`` may ask for.
    feed_stale_s:
        a paper session's last bar older than this makes ``/ready`` fail (``None``: three bar intervals
        of the session's timeframe, as the session reports it).
    model_stale_s:
        a session's model older than this makes ``/ready`` fail.
    resume_sessions:
        at start, resume every paper session the workspace records as running (the service, or a
        ``workbench paper run``, died under it: kill -9, a node lost) and those the previous service
        stopped when it shut down (SIGTERM, a rolling update); ``workbench api --resume-sessions``.
    """

    home: Path | None = None
    token: str | None = field(default=None, repr=False)
    auth: bool = True
    rate: float = 20.0
    burst: float | None = None
    max_upload_bytes: int = 50 * 1024 * 1024
    max_body_bytes: int = 1024 * 1024
    max_combos: int = 200_000
    upload_suffixes: tuple[str, ...] = UPLOAD_SUFFIXES
    feed_stale_s: float | None = None
    model_stale_s: float = 7 * 24 * 3600.0
    resume_sessions: bool = False

    def __post_init__(self) -> None:
        if self.auth and not self.token:
            raise ConfigError(
                "no API token: set WORKBENCH_API_TOKEN or pass --token-file FILE (e.g. from `openssl rand -hex 32`), "
                "or --no-auth to run without authentication on loopback"
            )
        if self.auth and len(self.token or "") < MIN_TOKEN_CHARS:
            raise ConfigError(
                f"the API token has {len(self.token or '')} characters; use at least {MIN_TOKEN_CHARS} "
                "(e.g. `openssl rand -hex 32`)"
            )
        if self.rate < 0 or (self.burst is not None and self.burst < 1):
            raise ConfigError(f"rate must be >= 0 and burst >= 1, got rate={self.rate} burst={self.burst}")
        if self.max_upload_bytes <= 0 or self.max_body_bytes <= 0 or self.max_combos <= 0:
            raise ConfigError("max_upload_bytes, max_body_bytes and max_combos must be > 0")

    @property
    def bucket_size(self) -> float:
        return self.burst if self.burst is not None else max(1.0, 2 * self.rate)

    @classmethod
    def from_settings(cls, cfg: Settings | None = None, **overrides) -> ServiceConfig:
        """The config of the environment (``WORKBENCH_API_TOKEN``, ``WORKBENCH_API_RATE``,
        ``WORKBENCH_API_MAX_UPLOAD_MB``, ``WORKBENCH_HOME``), then ``overrides``."""
        cfg = cfg or settings()
        base = {
            "home": cfg.home,
            "token": cfg.api_token,
            "rate": cfg.api_rate,
            "max_upload_bytes": int(cfg.api_max_upload_mb * 1024 * 1024),
        }
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)

    def with_(self, **changes) -> ServiceConfig:
        return replace(self, **changes)
