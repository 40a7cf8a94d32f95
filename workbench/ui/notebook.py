"""Charts and widgets in a notebook with no internet: JavaScript from the installed packages, never a CDN.

HoloViews, Panel and Bokeh load BokehJS and Panel's bundles into a notebook from cdn.bokeh.org,
cdn.holoviz.org and cdn.jsdelivr.net by default, so on a machine or cluster without egress every chart
stays blank. The workbench inlines them instead (read from the installed ``bokeh`` and ``panel``
packages), set once here for every notebook:

* importing :mod:`workbench.ui` in a Jupyter kernel calls :func:`use_local_resources` — Panel and Bokeh
  inline (``PANEL_INLINE``, ``BOKEH_RESOURCES``), HoloViews' ``hv.extension`` too, whoever calls it
  later (hvplot, ``pn.extension``, the widgets, your own cells), and the stylesheets Panel's models link
  on its CDN (themes, loading spinner, markdown, list layouts) become data URLs of the same files read
  from the ``panel`` package, for HoloViews objects as well as Panel's own, when first shown and in
  every later update (:func:`inline_stylesheets`; Panel alone inlines only its own first display);
* the first chart a widget draws calls :func:`load`, which runs ``hv.extension("bokeh")`` once per kernel;
* the "Trading Workbench" kernel (:mod:`workbench.kernel`) starts with :data:`OFFLINE_ENV` in its
  environment, so a plain ``pn.extension()`` is inline there even before the workbench is imported.

>>> import workbench.ui                 # in a notebook: resources are local from here on
>>> from workbench.ui import notebook
>>> notebook.load()                     # what drawing the first chart does (idempotent)

An environment variable set by the user wins (``PANEL_INLINE=false`` brings the CDN back).
"""

from __future__ import annotations

import base64
import functools
import importlib.util
import os
import sys
from collections.abc import Iterable
from typing import Any

from workbench.errors import MissingDependencyError

__all__ = [
    "OFFLINE_ENV",
    "in_kernel",
    "inline_enabled",
    "inline_stylesheets",
    "load",
    "register_hvplot",
    "use_local_resources",
]

# Read by Panel (``pn.config.inline``) and Bokeh (``bokeh.settings.resources``) whenever they render.
OFFLINE_ENV: dict[str, str] = {"PANEL_INLINE": "true", "BOKEH_RESOURCES": "inline"}
_TRUE = ("true", "1", "yes", "on")


def in_kernel() -> bool:
    """True inside a running Jupyter kernel (not plain Python, not ``panel serve``, not a Ray worker)."""
    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def inline_enabled() -> bool:
    """Whether resources are inlined: ``PANEL_INLINE`` as Panel reads it (after the defaults below)."""
    return os.environ.get("PANEL_INLINE", OFFLINE_ENV["PANEL_INLINE"]).strip().lower() in _TRUE


def _holoviews_extension() -> Any | None:
    """HoloViews' notebook extension class (``hv.extension``), or None without HoloViews."""
    try:
        from holoviews.ipython import notebook_extension
    except ImportError:
        return None
    return notebook_extension


@functools.lru_cache(maxsize=256)
def _css_data_url(url: str) -> str | None:
    """``data:text/css;base64,...`` of a stylesheet Panel links on its CDN, read from the installed
    package; None for anything else (or a file the package does not have)."""
    from panel.io.resources import CDN_DIST, DIST_DIR

    if not url.startswith(CDN_DIST):
        return None
    path = DIST_DIR / url.removeprefix(CDN_DIST).split("?")[0]
    if not path.is_file():
        return None
    return "data:text/css;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _inline_imported_stylesheets(models: Iterable[Any]) -> None:
    """Point every CDN ``ImportedStyleSheet`` among ``models`` at the same CSS as a data URL, in place:
    Panel shares these objects between models and reuses them for later updates, so the URL the
    browser sees is local from the first render on."""
    from bokeh.models import ImportedStyleSheet

    for model in models:
        if isinstance(model, ImportedStyleSheet):
            local = _css_data_url(str(model.url))
            if local is not None:
                model.url = local


def inline_stylesheets(viewable: Any, root: Any) -> None:
    """Panel preprocessing hook: the stylesheets a rendered root's models link on Panel's CDN (themes,
    the loading spinner, markdown, list layouts) become data URLs of the same files from the installed
    ``panel`` package. Panel inlines them for its own objects when first displayed, but neither for
    HoloViews objects nor for the models an update adds later (see :func:`_inline_updates`)."""
    from panel.config import config

    if config.inline:
        _inline_imported_stylesheets(root.references())


def _inline_updates() -> None:
    """Wrap Panel's notebook ``diff`` (every update a notebook receives over its comm goes through it) so
    that the models an update brings link no CDN stylesheet either."""
    import panel.io.notebook as pn_notebook
    from bokeh.model.util import collect_models
    from panel.config import config

    original = pn_notebook.diff
    if getattr(original, "_workbench_inline", False):
        return

    @functools.wraps(original)
    def diff(doc: Any, binary: bool = True, events: Any = None) -> Any:
        if config.inline:
            held = list(doc.callbacks._held_events) if events is None else list(events)
            values = [getattr(e, "model", None) for e in held] + [getattr(e, "new", None) for e in held]
            _inline_imported_stylesheets(collect_models(*[v for v in values if v is not None]))
        return original(doc, binary=binary, events=events)

    diff._workbench_inline = True  # type: ignore[attr-defined]
    pn_notebook.diff = diff


def _register_stylesheet_hook() -> None:
    try:
        from panel.viewable import Viewable
    except ImportError:
        return
    if inline_stylesheets not in Viewable._preprocessing_hooks:
        Viewable._preprocessing_hooks.append(inline_stylesheets)
    _inline_updates()


def use_local_resources() -> None:
    """Inline BokehJS, Panel's bundles and HoloViews' extension from the installed packages.

    Sets :data:`OFFLINE_ENV` unless the variable is already set, and HoloViews' ``inline`` default for
    every later ``hv.extension`` call (hvplot's included). Called on ``import workbench.ui`` in a kernel
    only: ``panel serve`` (the dashboards) serves the same files from its own server already.
    """
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    extension = _holoviews_extension()
    if extension is not None:
        extension.inline = inline_enabled()
    _register_stylesheet_hook()


def load() -> bool:
    """Load HoloViews' Bokeh extension into this kernel with local resources (once per kernel).

    Returns True when it emitted the notebook's JavaScript now, False when it had already been loaded
    or this is not a Jupyter kernel (scripts, tests, ``panel serve``: nothing to load into).
    """
    if not in_kernel():
        return False
    use_local_resources()
    extension = _holoviews_extension()
    if extension is None or getattr(extension, "_loaded", False):
        return False
    import holoviews as hv

    hv.extension("bokeh", logo=False, inline=inline_enabled())
    return True


def register_hvplot() -> None:
    """hvplot's ``.hvplot`` accessor on polars frames, imported once per process.

    hvplot drops its modules before every notebook cell so that the next import reloads the notebook
    extension; with the JavaScript inlined that is megabytes per chart, so a registered accessor is
    kept as it is (while ``hvplot.polars`` stays importable)."""
    import polars as pl

    if hasattr(pl.DataFrame, "hvplot") and importlib.util.find_spec("hvplot.polars") is not None:
        return
    try:
        import hvplot.polars  # noqa: F401 - registers the accessor
    except ImportError:
        raise MissingDependencyError("hvplot", "notebook") from None
