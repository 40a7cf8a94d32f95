"""Configuration in one place: settings read from environment variables.

=================  ==========================================  ===========================
variable           meaning                                     default
=================  ==========================================  ===========================
WORKBENCH_HOME     the workspace folder (catalog, raw, lake)   ./data/lake
OLLAMA_HOST        Ollama server for the chat                  http://127.0.0.1:11434
OLLAMA_MODEL       model the chat asks                         llama3.1:8b
OLLAMA_TIMEOUT     seconds to wait for the chat model          60
CHROMA_HOST        ChromaDB server (empty: embedded store)     (empty)
CHROMA_AUTH_TOKEN  bearer token for a token-auth Chroma server (empty)
RAY_ADDRESS        Ray cluster for optimisation (empty: local) (empty)
WORKBENCH_LOCK_WAIT seconds to wait for the store's write lock 30
WORKBENCH_AUTO_INDEX embed new backtests for the chat on ingest  0
WORKBENCH_RAY_DASHBOARD start the Ray dashboard with a local Ray  0
WORKBENCH_RAG_MAX_TRADES trades embedded one by one per backtest  5000
WORKBENCH_EMBED_BACKEND embedding backend: torch|onnx|onnx-int8  onnx-int8
WORKBENCH_EMBED_THREADS threads for embedding (0: the runtime's)  0
WORKBENCH_EMBED_CACHE  where the exported ONNX model is cached    ~/.cache/workbench/onnx
WORKBENCH_RAG_EXACT_MAX filtered chat search in memory up to N      200000
                       chunks per collection (0: Chroma filters)
WORKBENCH_DEBUG        show tracebacks instead of one-line errors  0
WORKBENCH_STRICT       ingest rejects platform quirks (warnings)   0
WORKBENCH_INITIAL_BALANCE balance assumed when a file states none  (empty: unknown)
WORKBENCH_SERVER_TZ    MetaTrader server time zone (e.g. EET,      (empty: recorded as
                       Europe/Athens, UTC+2) for files with none    "offset unknown")
MLFLOW_TRACKING_URI    the team's MLflow tracking server for the   (empty: a SQLite file
                       model registry (workbench.ml.registry)       <workspace>/mlflow.db)
WORKBENCH_API_TOKEN    bearer secret of `workbench api` (clients   (empty: the API refuses
                       send it, or a JWT HS256-signed with it)      to start; docs/service.md)
WORKBENCH_API_RATE     API requests per second per client          20
                       (token bucket, burst 2x; 0: no limit)
WORKBENCH_API_MAX_UPLOAD_MB largest upload the API accepts         50
=================  ==========================================  ===========================
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import ConfigError

__all__ = ["Settings", "settings"]

EMBED_BACKENDS = ("torch", "onnx", "onnx-int8")  # workbench.rag.embed.BACKENDS registers each


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    home: Path
    ollama_host: str = "http://127.0.0.1:11434"
    ollama_model: str = "llama3.1:8b"
    chroma_host: str | None = None
    chroma_auth_token: str | None = field(default=None, repr=False)  # sent as Authorization: Bearer
    ray_address: str | None = None
    lock_wait_s: float = 30.0
    ollama_timeout_s: float = 60.0
    rag_max_trades: int = 5000
    auto_index: bool = False  # embed new backtests for the chat as part of every ingest
    ray_dashboard: bool = False  # start the Ray dashboard with a local Ray for `optimize`
    embed_backend: str = "onnx-int8"  # workbench.rag.embed.BACKENDS: torch | onnx | onnx-int8
    embed_threads: int = 0  # 0: the runtime's default
    embed_cache: Path = Path("~/.cache/workbench/onnx").expanduser()
    rag_exact_max: int = 200_000  # workbench.rag.exact: filtered search in memory up to this many chunks
    debug: bool = False  # tracebacks instead of one-line errors
    strict: bool = False  # ingest: platform quirks (warnings, anomalies) reject the file
    initial_balance: float | None = None  # assumed for files that state no balance (None: unknown)
    server_tz: str | None = None  # MetaTrader broker server time zone, for files that state none
    mlflow_tracking_uri: str | None = None  # model registry server (None: <workspace>/mlflow.db)
    api_token: str | None = field(default=None, repr=False)  # workbench api: the bearer secret
    api_rate: float = 20.0  # workbench api: requests/s per client (0: unlimited)
    api_max_upload_mb: float = 50.0  # workbench api: largest upload
    mcs: str = "mcs"  # workbench codegen --check: the C# compiler (a name on PATH or a path)

    def __post_init__(self) -> None:
        if self.lock_wait_s < 0:
            raise ConfigError(f"WORKBENCH_LOCK_WAIT must be >= 0, got {self.lock_wait_s}")
        if self.ollama_timeout_s <= 0:
            raise ConfigError(f"OLLAMA_TIMEOUT must be > 0 seconds, got {self.ollama_timeout_s}")
        if self.rag_max_trades < 0:
            raise ConfigError(f"WORKBENCH_RAG_MAX_TRADES must be >= 0, got {self.rag_max_trades}")
        if self.rag_exact_max < 0:
            raise ConfigError(f"WORKBENCH_RAG_EXACT_MAX must be >= 0, got {self.rag_exact_max}")
        if self.embed_backend not in EMBED_BACKENDS:
            raise ConfigError(
                f"WORKBENCH_EMBED_BACKEND must be one of {', '.join(EMBED_BACKENDS)}, got {self.embed_backend!r}"
            )
        if self.embed_threads < 0:
            raise ConfigError(f"WORKBENCH_EMBED_THREADS must be >= 0, got {self.embed_threads}")
        if self.api_rate < 0 or self.api_max_upload_mb <= 0:
            raise ConfigError(
                f"WORKBENCH_API_RATE must be >= 0 and WORKBENCH_API_MAX_UPLOAD_MB > 0, got "
                f"{self.api_rate} and {self.api_max_upload_mb}"
            )


def _flag(env: dict[str, str], name: str) -> bool:
    return (env.get(name) or "0").strip().lower() in {"1", "true", "yes", "on"}


def settings(env: dict[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from ``env`` (default: the process environment)."""
    env = dict(os.environ if env is None else env)
    try:
        lock_wait = float(env.get("WORKBENCH_LOCK_WAIT", "30"))
    except ValueError:
        raise ConfigError(
            f"WORKBENCH_LOCK_WAIT must be a number of seconds, got {env['WORKBENCH_LOCK_WAIT']!r}"
        ) from None

    def number(name: str, default: str, kind: type = float):
        try:
            return kind(env.get(name) or default)
        except ValueError:
            raise ConfigError(f"{name} must be a {kind.__name__}, got {env[name]!r}") from None

    return Settings(
        home=Path(env.get("WORKBENCH_HOME") or "data/lake").expanduser(),
        ollama_host=env.get("OLLAMA_HOST") or "http://127.0.0.1:11434",
        ollama_model=env.get("OLLAMA_MODEL") or "llama3.1:8b",
        chroma_host=env.get("CHROMA_HOST") or None,
        chroma_auth_token=(env.get("CHROMA_AUTH_TOKEN") or "").strip() or None,
        ray_address=env.get("RAY_ADDRESS") or None,
        lock_wait_s=lock_wait,
        ollama_timeout_s=number("OLLAMA_TIMEOUT", "60"),
        rag_max_trades=number("WORKBENCH_RAG_MAX_TRADES", "5000", int),
        auto_index=_flag(env, "WORKBENCH_AUTO_INDEX"),
        ray_dashboard=_flag(env, "WORKBENCH_RAY_DASHBOARD"),
        embed_backend=(env.get("WORKBENCH_EMBED_BACKEND") or "onnx-int8").strip().lower(),
        embed_threads=number("WORKBENCH_EMBED_THREADS", "0", int),
        embed_cache=Path(env.get("WORKBENCH_EMBED_CACHE") or "~/.cache/workbench/onnx").expanduser(),
        rag_exact_max=number("WORKBENCH_RAG_EXACT_MAX", "200000", int),
        debug=_flag(env, "WORKBENCH_DEBUG"),
        strict=_flag(env, "WORKBENCH_STRICT"),
        initial_balance=number("WORKBENCH_INITIAL_BALANCE", "", float)
        if env.get("WORKBENCH_INITIAL_BALANCE")
        else None,
        server_tz=(env.get("WORKBENCH_SERVER_TZ") or "").strip() or None,
        mlflow_tracking_uri=(env.get("MLFLOW_TRACKING_URI") or "").strip() or None,
        api_token=(env.get("WORKBENCH_API_TOKEN") or "").strip() or None,
        api_rate=number("WORKBENCH_API_RATE", "20"),
        api_max_upload_mb=number("WORKBENCH_API_MAX_UPLOAD_MB", "50"),
        mcs=(env.get("WORKBENCH_MCS") or "").strip() or "mcs",
    )
