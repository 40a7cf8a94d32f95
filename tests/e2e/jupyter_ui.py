"""Drive JupyterLab in headless Chromium as a person does, with every request that would leave the machine
blocked.

Built on the project's DevTools driver (:mod:`workbench.reports.browser`): a :class:`GuardedPage`
intercepts every request (``Fetch`` domain) and fails those that are not for loopback, ``data:`` or
``blob:``, and clicks and types with real input events (``Input`` domain). The helpers below open a
notebook, run all cells from the Run menu, wait for the kernel, save through the keyboard, and read what
the page shows: outputs, Bokeh canvases (inside shadow DOM) and the titles of the live Bokeh plots.

Used by tests/e2e/test_notebooks_browser.py (a JupyterLab server) and tests/infra/test_local_hub.py (a
user's server behind the local JupyterHub).
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from typing import Any

from workbench.errors import WorkbenchError
from workbench.reports.browser import Chromium, Page

LOCAL_SCHEMES = ("data", "blob", "about", "chrome", "devtools")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

# Titles of every live Bokeh plot on the page.
TITLES_JS = (
    "(window.Bokeh ? Bokeh.documents.flatMap(d => [...d.all_models]"
    ".filter(m => m.type === 'Title').map(m => m.text)) : [])"
)

# Every Bokeh root the active notebook's outputs embed (HoloViews and Panel objects, and the reports'
# static charts), in page order: its cell, how many views BokehJS attached (elements with a shadow root;
# 0 = BokehJS never drew it: the blank output of a missing CDN), its plots (``.bk-Canvas``, inside
# shadow DOM) and how many of them are drawn (a canvas with more than one colour), and its size.
ROOTS_JS = """
(() => {
  // Bokeh may paint its layers through a bitmap renderer: copy each canvas onto a 2d one to read it
  const drawn = (c) => {
    if (!c.width || !c.height) return false;
    const copy = document.createElement('canvas');
    copy.width = c.width; copy.height = c.height;
    const ctx = copy.getContext('2d');
    ctx.drawImage(c, 0, 0);
    const data = ctx.getImageData(0, 0, c.width, c.height).data;
    const step = 4 * Math.max(1, Math.floor(data.length / 4 / 40000));
    for (let i = step; i < data.length; i += step) {
      if (data[i] !== data[0] || data[i + 1] !== data[1] || data[i + 2] !== data[2] || data[i + 3] !== data[3]) return true;
    }
    return false;
  };
  const model = (id) => {
    for (const d of (window.Bokeh ? Bokeh.documents : [])) {
      const m = d.get_model_by_id(id);
      if (m) return m.type;
    }
    return null;
  };
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return [];
  const cells = [...panel.querySelectorAll('.jp-Cell')];
  return [...panel.querySelectorAll('.jp-OutputArea-output [data-root-id]')].map(root => {
    const plots = __wbAll('.bk-Canvas', root);
    const r = root.closest('.jp-OutputArea-output').getBoundingClientRect();  // the root is display: contents
    return {
      cell: cells.indexOf(root.closest('.jp-Cell')),
      model: model(root.dataset.rootId),
      views: __wbAll('*', root).filter(e => e.shadowRoot).length,
      plots: plots.length,
      drawn: plots.filter(p => __wbAll('canvas', p.shadowRoot || p).some(drawn)).length,
      width: Math.round(r.width), height: Math.round(r.height),
    };
  });
})()
"""
# Bokeh roots that draw nothing by design (Panel's browser-info model)
NON_VISUAL = ("BrowserInfo",)  # matched at the end of the model's type name


def blank_roots(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Roots BokehJS never rendered: no live document holds their model (BokehJS did not load), or a
    visual model with no view attached."""
    return [
        r for r in found if r["model"] is None or (r["views"] == 0 and not r["model"].endswith(NON_VISUAL))
    ]


def is_local(url: str) -> bool:
    """A URL that stays on this machine: loopback http(s)/ws(s), or data:, blob:, about: and the like."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    return parts.scheme in ("http", "https", "ws", "wss") and (parts.hostname or "") in LOOPBACK_HOSTS


class GuardedPage(Page):
    """A tab whose requests off the machine are failed (``BlockedByClient``) and recorded in ``blocked``.

    Every request is paused by the ``Fetch`` domain and continued only when :func:`is_local` says so.
    WebSocket handshakes are not seen by ``Fetch``; their URLs are kept in ``websockets``.
    """

    def __init__(self, ws_url: str, *, width: int, height: int) -> None:
        self.blocked: list[str] = []
        self.websockets: list[str] = []
        self.target_id = ""
        super().__init__(ws_url, width=width, height=height, offline=False)
        self.call("Fetch.enable", patterns=[{"urlPattern": "*"}])

    def _send(self, method: str, **params: Any) -> None:
        """A command whose answer nobody waits for (it is read and ignored later)."""
        self._id += 1
        self._ws.send(json.dumps({"id": self._id, "method": method, "params": params}))

    def _record(self, msg: dict[str, Any]) -> None:
        method = msg.get("method", "")
        params = msg.get("params", {})
        if method == "Fetch.requestPaused":
            url = params["request"]["url"]
            if is_local(url):
                self._send("Fetch.continueRequest", requestId=params["requestId"])
            else:
                self.blocked.append(url)
                self._send("Fetch.failRequest", requestId=params["requestId"], errorReason="BlockedByClient")
        elif method == "Network.webSocketCreated":
            self.websockets.append(params["url"])
        super()._record(msg)

    def external(self) -> list[str]:
        """Every URL off the machine this page asked for (blocked or not): must stay empty."""
        asked = [*self.requests, *self.websockets, *self.blocked]
        return sorted({u for u in asked if not is_local(u)})

    def pause(self, seconds: float) -> None:
        """Wait while answering the page's paused requests (``time.sleep`` would stall the page)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._drain(min(0.2, max(0.01, deadline - time.monotonic())))

    # -- input as a person gives it -------------------------------------------------------------------
    def click_at(self, x: float, y: float) -> None:
        self.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def click(self, element_js: str) -> None:
        """Scroll the element (a JavaScript expression) into view and click its centre."""
        box = self.evaluate(
            f"(() => {{ const e = {element_js}; if (!e) return null; e.scrollIntoView({{block: 'center'}});"
            " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        if not box:
            raise WorkbenchError(f"chromium: nothing to click: {element_js[:120]}")
        self.click_at(*box)

    def key(self, key: str, code: str, key_code: int, *, modifiers: int = 0) -> None:
        """One key stroke (``modifiers``: 1 Alt, 2 Ctrl, 4 Meta, 8 Shift)."""
        common = {"key": key, "code": code, "windowsVirtualKeyCode": key_code, "modifiers": modifiers}
        self.call("Input.dispatchKeyEvent", type="rawKeyDown", **common)
        self.call("Input.dispatchKeyEvent", type="keyUp", **common)

    def type_text(self, text: str) -> None:
        self.call("Input.insertText", text=text)


def guarded_page(browser: Chromium, *, width: int = 1400, height: int = 1000) -> GuardedPage:
    """A new tab of ``browser`` with its network limited to this machine."""
    req = urllib.request.Request(f"http://127.0.0.1:{browser.port}/json/new?about:blank", method="PUT")
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback only
        target = json.loads(resp.read())
    page = GuardedPage(target["webSocketDebuggerUrl"], width=width, height=height)
    page.target_id = target["id"]
    browser._pages.append(page)  # its websocket is closed with the browser
    return page


def close_tab(browser: Chromium, page: GuardedPage) -> None:
    """Close the tab (JupyterLab and its kernel connections go with it)."""
    page.close()
    url = f"http://127.0.0.1:{browser.port}/json/close/{page.target_id}"
    try:
        with urllib.request.urlopen(url, timeout=10):  # noqa: S310 - loopback only
            pass
    except OSError:
        pass


# -- JupyterLab ------------------------------------------------------------------------------------------

ACTIVE = "document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)')"
PROMPTS_JS = f"[...{ACTIVE}.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.textContent.trim())"
KERNEL_IDLE_JS = (
    f"(() => {{ const i = {ACTIVE}?.querySelector('.jp-Notebook-ExecutionIndicator');"
    " return i ? i.getAttribute('data-status') : null; })()"
)


DIALOG_ACCEPT = "document.querySelector('.jp-Dialog .jp-Dialog-button.jp-mod-accept')"
DIALOG_TITLE = "document.querySelector('.jp-Dialog .jp-Dialog-header')?.textContent.trim()"


def open_notebook(page: GuardedPage, url: str, *, timeout_s: float = 120) -> None:
    """Load a JupyterLab URL that opens one notebook and wait for its kernel to be idle (accepting the
    notebook's own kernel when JupyterLab asks which kernel to start)."""
    page.goto(url, timeout_s=timeout_s)
    page.wait_for(f"!!({ACTIVE} && {ACTIVE}.querySelector('.jp-Cell'))", timeout_s=timeout_s)
    deadline = time.monotonic() + timeout_s
    settled = 0
    while settled < 3:
        if time.monotonic() > deadline:
            raise WorkbenchError(f"jupyterlab: the notebook's kernel did not start in {timeout_s:.0f} s")
        if page.evaluate(DIALOG_TITLE) == "Select Kernel":
            page.click(DIALOG_ACCEPT)  # the preselected kernel is the notebook's
        idle = page.evaluate(f"{KERNEL_IDLE_JS} === 'idle' && !{DIALOG_TITLE}")
        settled = settled + 1 if idle else 0
        page.pause(0.5)


def run_all_cells(page: GuardedPage) -> None:
    """Run > Run All Cells, clicked in the menu bar."""
    page.click(f"{ACTIVE}.querySelector('.jp-Cell')")  # focus the notebook
    page.click("[...document.querySelectorAll('.lm-MenuBar-item')].find(e => e.textContent.trim() === 'Run')")
    page.wait_for("!!document.querySelector('.lm-Menu-item[data-command=\"runmenu:run-all\"]')", timeout_s=10)
    page.click("document.querySelector('.lm-Menu-item[data-command=\"runmenu:run-all\"]')")


def wait_until_run(page: GuardedPage, *, timeout_s: float) -> list[str]:
    """Wait until nothing is queued or running (no ``[*]`` prompt, kernel idle) for a few seconds, or
    ``timeout_s``; returns the code cells' prompts (``[n]:`` once run; Run All stops at an error)."""
    deadline = time.monotonic() + timeout_s
    settled = 0
    prompts: list[str] = []
    while time.monotonic() < deadline and settled < 3:
        page.pause(1.0)
        prompts = page.evaluate(PROMPTS_JS) or []
        busy = any("*" in p for p in prompts) or page.evaluate(KERNEL_IDLE_JS) != "idle"
        started = any(re.fullmatch(r"\[\d+\]:", p) for p in prompts)
        settled = settled + 1 if started and not busy else 0
    page.pause(1.0)  # let the last outputs render
    return page.evaluate(PROMPTS_JS) or prompts


def save(page: GuardedPage, *, timeout_s: float = 30) -> None:
    """Ctrl+S, then wait until the tab is no longer marked dirty."""
    page.click(f"{ACTIVE}.querySelector('.jp-Cell')")
    page.key("s", "KeyS", 83, modifiers=2)
    page.wait_for(
        "!document.querySelector('.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current.jp-mod-dirty')",
        timeout_s=timeout_s,
    )


def roots(page: GuardedPage) -> list[dict[str, Any]]:
    """Every Bokeh root in the active notebook's outputs (see ``ROOTS_JS``)."""
    return page.evaluate(ROOTS_JS) or []


def scroll_to_root(page: GuardedPage, index: int) -> None:
    """Scroll the ``index``-th Bokeh root of the notebook into view (what a reader does)."""
    page.evaluate(
        f"[...{ACTIVE}.querySelectorAll('.jp-OutputArea-output [data-root-id]')][{index}]"
        "?.closest('.jp-OutputArea-output').scrollIntoView({block: 'center'})"
    )


def wait_for_charts_drawn(page: GuardedPage, *, timeout_s: float = 30) -> list[dict[str, Any]]:
    """Scroll to every Bokeh root in turn and wait until BokehJS has attached its views and drawn each
    of its plots; returns :func:`roots` (the caller asserts)."""
    for i in range(len(roots(page))):
        scroll_to_root(page, i)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            now = roots(page)
            if i >= len(now) or (not blank_roots(now[i : i + 1]) and now[i]["drawn"] == now[i]["plots"]):
                break
            page.pause(0.5)
    return roots(page)


def error_outputs(notebook: dict[str, Any]) -> list[str]:
    """``cell N: Ename: evalue`` for every error output of a saved notebook (its JSON)."""
    return [
        f"cell {i}: {o.get('ename')}: {o.get('evalue')}"
        for i, cell in enumerate(notebook["cells"])
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]


def _pick(page: GuardedPage, select_js: str, assignment: str) -> None:
    page.evaluate(
        f"(() => {{ const s = {select_js}; s.scrollIntoView({{block: 'center'}}); s.focus(); {assignment};"
        " s.dispatchEvent(new Event('input', {bubbles: true}));"
        " s.dispatchEvent(new Event('change', {bubbles: true})); })()"
    )


def select_value(page: GuardedPage, select_js: str, value: str) -> None:
    """Pick an option of a ``<select>`` (a widget's, or one inside Bokeh's shadow DOM) by value, as a
    person's choice arrives: the value changes, then ``input`` and ``change`` fire."""
    _pick(page, select_js, f"s.value = {json.dumps(value)}")


def select_index(page: GuardedPage, select_js: str, index: int) -> None:
    """Pick the ``index``-th option of a ``<select>`` (see :func:`select_value`)."""
    _pick(page, select_js, f"s.selectedIndex = {int(index)}")


def widget_select(label: str) -> str:
    """JavaScript for the ``<select>`` of the ipywidgets Dropdown described as ``label``."""
    return (
        f"[...{ACTIVE}.querySelectorAll('.widget-dropdown')]"
        f".find(w => w.querySelector('label')?.textContent.trim() === {json.dumps(label)})"
        "?.querySelector('select')"
    )


def titles(page: GuardedPage) -> list[str]:
    return page.evaluate(TITLES_JS) or []


def slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", path.removesuffix(".ipynb"))
