"""Headless Chromium over the DevTools protocol: load a page, evaluate JavaScript, take a screenshot.

Used by the tests to check that reports render offline and that the dashboards respond. Needs the
``chromium`` binary (Debian package; ``$WORKBENCH_CHROMIUM`` overrides the path) and
``websocket-client``. No browser is downloaded.

>>> with Chromium() as browser:
...     page = browser.page(offline=True)
...     page.goto("file:///tmp/report.html")
...     page.wait_for("document.readyState === 'complete'")
...     page.screenshot("/tmp/report.png")
...     page.requests          # every URL the page asked for
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workbench.errors import MissingDependencyError, WorkbenchError

__all__ = ["Chromium", "Page", "chromium_path", "SHADOW_JS"]

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)

# Helpers injected into every page: querySelectorAll through open shadow roots (Bokeh and Panel
# render their widgets and canvases inside shadow DOM).
SHADOW_JS = """
window.__wbAll = function(selector, root) {
  const out = [];
  const walk = (node) => {
    if (node.querySelectorAll) out.push(...node.querySelectorAll(selector));
    const all = node.querySelectorAll ? node.querySelectorAll('*') : [];
    for (const el of all) if (el.shadowRoot) walk(el.shadowRoot);
  };
  walk(root || document);
  return out;
};
window.__wbVisible = function(selector) {
  return window.__wbAll(selector).filter(e => {
    const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0;
  }).length;
};
"""


def chromium_path() -> str | None:
    """``$WORKBENCH_CHROMIUM``, else ``chromium`` / ``chromium-browser`` / ``google-chrome`` on PATH."""
    env = os.environ.get("WORKBENCH_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Page:
    """One tab, driven over its DevTools websocket. ``requests`` lists every URL it requested."""

    def __init__(self, ws_url: str, *, width: int, height: int, offline: bool) -> None:
        try:
            import websocket
        except ImportError:
            raise MissingDependencyError("websocket-client", "dev") from None
        self._ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self._id = 0
        self.events: list[dict[str, Any]] = []
        self.requests: list[str] = []
        self.failed: list[str] = []
        self.console: list[str] = []
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Network.enable")
        if offline:
            self.call(
                "Network.emulateNetworkConditions",
                offline=True,
                latency=0,
                downloadThroughput=-1,
                uploadThroughput=-1,
            )
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.call("Page.addScriptToEvaluateOnNewDocument", source=SHADOW_JS)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._ws.close()

    def _record(self, msg: dict[str, Any]) -> None:
        method = msg.get("method", "")
        params = msg.get("params", {})
        if method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed":
            self.failed.append(f"{params.get('errorText')}: {params.get('requestId')}")
        elif method == "Runtime.consoleAPICalled":
            self.console.append(
                f"{params.get('type')}: "
                + " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            )
        elif method == "Runtime.exceptionThrown":
            self.console.append("exception: " + params["exceptionDetails"].get("text", ""))
        self.events.append(msg)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        my_id = self._id
        self._ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self._ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise WorkbenchError(f"chromium: {method}: {msg['error'].get('message')}")
                return msg.get("result", {})
            self._record(msg)

    def _drain(self, seconds: float) -> None:
        """Read pending events for up to ``seconds``."""
        import websocket

        self._ws.settimeout(seconds)
        try:
            while True:
                self._record(json.loads(self._ws.recv()))
        except (websocket.WebSocketTimeoutException, TimeoutError):
            pass
        finally:
            self._ws.settimeout(60)

    def goto(self, url: str, *, timeout_s: float = 30.0) -> None:
        """Navigate and wait for the load event."""
        start = len(self.events)
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(e.get("method") == "Page.loadEventFired" for e in self.events[start:]):
                return
            self._drain(0.2)
        raise WorkbenchError(f"chromium: {url} did not finish loading in {timeout_s:.0f} s")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises are awaited)."""
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            detail = res["exceptionDetails"]
            text = detail.get("exception", {}).get("description") or detail.get("text")
            raise WorkbenchError(f"chromium: {expression[:80]!r} raised {text}")
        return res.get("result", {}).get("value")

    def wait_for(self, expression: str, *, timeout_s: float = 30.0, interval_s: float = 0.2) -> Any:
        """Poll ``expression`` until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout_s
        value = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            self._drain(interval_s)
        raise WorkbenchError(f"chromium: timed out after {timeout_s:.0f} s waiting for {expression[:120]!r}")

    def screenshot(self, path: str | Path, *, full_page: bool = False) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {
                "x": 0,
                "y": 0,
                "width": size["width"],
                "height": min(size["height"], 12000),
                "scale": 1,
            }
            params["captureBeyondViewport"] = True
        data = self.call("Page.captureScreenshot", **params)["data"]
        out = Path(path)
        out.write_bytes(base64.b64decode(data))
        return out


def _remove_profile(profile: Path, attempts: int = 20) -> None:
    """Remove a profile directory that an exiting helper process may still be writing into."""
    for _ in range(attempts):
        try:
            shutil.rmtree(profile)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)
    shutil.rmtree(profile, ignore_errors=True)


class Chromium:
    """A headless Chromium process with a fresh profile; a context manager that ends it on exit."""

    def __init__(self, executable: str | None = None, *, startup_s: float = 30.0) -> None:
        self.executable = executable or chromium_path()
        if not self.executable:
            raise WorkbenchError(
                "chromium not found; install it (apt-get install chromium) or set WORKBENCH_CHROMIUM"
            )
        self.startup_s = startup_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._profile: tempfile.TemporaryDirectory[str] | None = None
        self._pages: list[Page] = []
        self.port = 0

    def __enter__(self) -> Chromium:
        self._profile = tempfile.TemporaryDirectory(prefix="workbench-chromium-")
        profile = Path(self._profile.name)
        self._proc = subprocess.Popen(
            [self.executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + self.startup_s
        while time.monotonic() < deadline:
            if port_file.exists():
                lines = port_file.read_text().split()
                if lines:
                    self.port = int(lines[0])
                    break
            if self._proc.poll() is not None:
                raise WorkbenchError(f"chromium exited with code {self._proc.returncode} at start")
            time.sleep(0.05)
        else:
            self.__exit__(None, None, None)
            raise WorkbenchError(f"chromium did not open its DevTools port in {self.startup_s:.0f} s")
        return self

    def __exit__(self, *exc: object) -> None:
        for page in self._pages:
            page.close()
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(10)
            # Renderer, GPU and crashpad helpers share the browser's session; they can outlive it for a
            # moment and keep writing into the profile, so end the whole group before removing it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
        if self._profile is not None:
            _remove_profile(Path(self._profile.name))
            with contextlib.suppress(OSError):
                self._profile.cleanup()

    def page(self, *, width: int = 1280, height: int = 900, offline: bool = False) -> Page:
        """A new tab. ``offline=True`` cuts its network off (file: and data: URLs still load)."""
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback only
            target = json.loads(resp.read())
        page = Page(target["webSocketDebuggerUrl"], width=width, height=height, offline=offline)
        self._pages.append(page)
        return page

    def pages(self) -> Iterator[Page]:
        return iter(self._pages)
