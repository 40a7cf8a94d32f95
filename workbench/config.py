"""Configuration in one place: settings read from environment variables.

=================  ==========================================  ===========================
variable           meaning                                     default
=================  ==========================================  ===========================
WORKBENCH_HOME     the workspace folder (catalog, raw, lake)   ./data/lake
OLLAMA_HOST        Ollama server for the chat                  http://127.0.0.1:11434
OLLAMA_MODEL       model the chat asks                         llama3.1:8b
CHROMA_HOST        ChromaDB server (empty: embedded store)     (empty)
RAY_ADDRESS        Ray cluster for optimisation (empty: local) (empty)
WORKBENCH_LOCK_WAIT seconds to wait for the store's write lock 30
=================  ==========================================  ===========================
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import ConfigError

__all__ = ["Settings", "settings"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    home: Path
    ollama_host: str = "http://127.0.0.1:11434"
    ollama_model: str = "llama3.1:8b"
    chroma_host: str | None = None
    ray_address: str | None = None
    lock_wait_s: float = 30.0

    def __post_init__(self) -> None:
        if self.lock_wait_s < 0:
            raise ConfigError(f"WORKBENCH_LOCK_WAIT must be >= 0, got {self.lock_wait_s}")


def settings(env: dict[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from ``env`` (default: the process environment)."""
    env = dict(os.environ if env is None else env)
    try:
        lock_wait = float(env.get("WORKBENCH_LOCK_WAIT", "30"))
    except ValueError:
        raise ConfigError(
            f"WORKBENCH_LOCK_WAIT must be a number of seconds, got {env['WORKBENCH_LOCK_WAIT']!r}"
        ) from None
    return Settings(
        home=Path(env.get("WORKBENCH_HOME") or "data/lake").expanduser(),
        ollama_host=env.get("OLLAMA_HOST") or "http://127.0.0.1:11434",
        ollama_model=env.get("OLLAMA_MODEL") or "llama3.1:8b",
        chroma_host=env.get("CHROMA_HOST") or None,
        ray_address=env.get("RAY_ADDRESS") or None,
        lock_wait_s=lock_wait,
    )
