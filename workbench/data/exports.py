"""The sample exports shipped in the repository's ``data/samples`` (sources and licences: data/README.md).

Five small real exports (cTrader history and cBot parameters, an MT5 tester report and an MT5
optimisation) that ``workbench demo`` and the quickstart notebooks ingest. Nothing outside the
repository is ever read on their behalf.

>>> from workbench.data.exports import sample_exports
>>> wb.open().ingest([sample_exports()])
"""

from __future__ import annotations

from pathlib import Path

from workbench.errors import ConfigError

__all__ = ["REPO_ROOT", "SAMPLE_EXPORTS", "sample_exports"]

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_EXPORTS = REPO_ROOT / "data" / "samples"


def sample_exports() -> Path:
    """The ``data/samples`` folder of the repository the package runs from."""
    if not SAMPLE_EXPORTS.is_dir():
        raise ConfigError(
            f"{SAMPLE_EXPORTS}: no sample exports here (they ship in the repository's data/samples, "
            "not in an installed wheel); ingest your own: `workbench ingest PATH`"
        )
    return SAMPLE_EXPORTS
