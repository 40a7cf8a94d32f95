"""Named SQL: every statement lives in ``sql/queries.sql`` under ``-- name: <name>``."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

__all__ = ["Q"]

_HEADER = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.M)


@cache
def _load() -> dict[str, str]:
    text = resources.files("workbench.store").joinpath("sql/queries.sql").read_text(encoding="utf-8")
    parts = _HEADER.split(text)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


class _Queries:
    def __getattr__(self, name: str) -> str:
        try:
            return _load()[name]
        except KeyError:
            raise AttributeError(f"no SQL named {name!r} in workbench/store/sql/queries.sql") from None

    def names(self) -> list[str]:
        return sorted(_load())


Q = _Queries()
