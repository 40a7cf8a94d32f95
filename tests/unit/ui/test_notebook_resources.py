"""Notebook resources come from the installed packages: Panel/Bokeh inline, HoloViews' extension inline,
and no Panel model of a rendered chart links a stylesheet on a CDN (workbench/ui/notebook.py).

The browser test (tests/e2e/test_notebooks_browser.py) shows the result in JupyterLab with the network
cut off; these check the settings themselves, without a kernel.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from workbench.kernel import kernel_spec
from workbench.ui import notebook

CDN = ("https://cdn.holoviz.org", "https://cdn.bokeh.org", "https://cdn.jsdelivr.net", "https://unpkg.com")


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No resource variables set; HoloViews' default and Panel's hooks restored afterwards."""
    from holoviews.ipython import notebook_extension
    from panel.viewable import Viewable

    for key in notebook.OFFLINE_ENV:
        monkeypatch.delenv(key, raising=False)
    inline, hooks = notebook_extension.inline, list(Viewable._preprocessing_hooks)
    yield
    notebook_extension.inline = inline
    Viewable._preprocessing_hooks[:] = hooks


def _stylesheet_urls(root: Any) -> list[str]:
    from bokeh.models import ImportedStyleSheet, UIElement

    return [
        s.url
        for model in root.select({"type": UIElement})
        for s in model.stylesheets
        if isinstance(s, ImportedStyleSheet)
    ]


def _cdn(urls: list[str]) -> list[str]:
    return [u for u in urls if u.startswith(CDN)]


def _render_chart() -> Any:
    """A HoloViews chart rendered for a notebook (a comm, as HoloViews' display hook renders it)."""
    import holoviews as hv
    import panel as pn
    from bokeh.document import Document

    from workbench.reports.charts import hv as load_bokeh

    load_bokeh()
    comm = pn.state._comm_manager.get_server_comm()
    return pn.panel(hv.Curve([1, 3, 2])).get_root(Document(), comm)


def test_use_local_resources_inlines_panel_bokeh_and_holoviews(fresh: None) -> None:
    import os

    from bokeh.settings import settings
    from holoviews.ipython import notebook_extension
    from hvplot.utilities import hvplot_extension
    from panel.config import config

    notebook_extension.inline = False
    notebook.use_local_resources()
    assert {k: os.environ[k] for k in notebook.OFFLINE_ENV} == {
        "PANEL_INLINE": "true",
        "BOKEH_RESOURCES": "inline",
    }
    assert config.inline is True and settings.resources() == "inline"
    # every later hv.extension call (hvplot's on import, pn.extension's) inlines too
    assert notebook_extension.inline is True
    if issubclass(hvplot_extension, notebook_extension):  # in a kernel, hv.extension is notebook_extension
        assert hvplot_extension.instance().inline is True


def test_a_setting_the_user_made_wins(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from holoviews.ipython import notebook_extension
    from panel.config import config

    monkeypatch.setenv("PANEL_INLINE", "false")
    notebook.use_local_resources()
    assert not notebook.inline_enabled() and not config.inline
    assert notebook_extension.inline is False


def test_rendered_charts_link_no_cdn_stylesheet(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PANEL_INLINE", "true")
    linked = _stylesheet_urls(_render_chart())
    assert _cdn(linked), linked  # what HoloViews' renderer leaves by itself
    notebook.use_local_resources()
    linked = _stylesheet_urls(_render_chart())
    assert linked and not _cdn(linked), linked  # the same files, as data URLs read from the panel package
    assert all(u.startswith("data:text/css;base64,") for u in linked)


def test_updates_sent_to_a_notebook_link_no_cdn_stylesheet(
    fresh: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model an update adds (a redrawn chart's layout) gets a data URL too: Panel's notebook diff."""
    import panel.io.notebook as pn_notebook
    from bokeh.document import Document
    from bokeh.models import Column, Div, ImportedStyleSheet
    from panel.io.resources import CDN_DIST

    monkeypatch.setenv("PANEL_INLINE", "true")
    notebook.use_local_resources()

    def update(diff: Any) -> str:
        doc = Document()
        column = Column()
        doc.add_root(column)
        doc.hold()
        column.children = [
            Div(text="new", stylesheets=[ImportedStyleSheet(url=f"{CDN_DIST}css/loading.css")])
        ]
        return diff(doc, binary=False).content_json

    assert CDN_DIST in update(pn_notebook.diff.__wrapped__)  # Panel by itself
    sent = update(pn_notebook.diff)
    assert CDN_DIST not in sent and "data:text/css;base64," in sent


def test_load_is_a_no_op_outside_a_kernel(fresh: None) -> None:
    assert not notebook.in_kernel()
    assert notebook.load() is False


def test_importing_workbench_ui_outside_a_kernel_changes_nothing() -> None:
    import os
    import subprocess

    code = "import os, workbench.ui; print(os.environ.get('PANEL_INLINE'), os.environ.get('BOKEH_RESOURCES'))"
    env = {k: v for k, v in os.environ.items() if k not in notebook.OFFLINE_ENV}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["None", "None"]  # `panel serve` and scripts keep their own settings


def test_the_workbench_kernel_starts_with_local_resources() -> None:
    assert kernel_spec("python")["env"] == notebook.OFFLINE_ENV


def test_register_hvplot_names_the_extra_when_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "hvplot.polars", None)
    with pytest.raises(MissingDependencyError, match=r"hvplot.*workbench\[notebook\]"):
        notebook.register_hvplot()
