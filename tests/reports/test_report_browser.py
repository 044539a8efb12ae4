"""The HTML report in a real headless Chromium (Debian's ``chromium``; installed here with
apt-get if missing): the page loads with no console errors, every image loads, no text overflows
its box and the page does not scroll sideways, every Pareto point has a visible label inside its
plot and no legend covers a point; a screenshot is kept as an artifact
(``$LOWBIT_TEST_ARTIFACTS`` or ``out/test-artifacts/``, ignored by git). Driven over the Chrome DevTools protocol with tornado's websocket client (tornado
comes with Dask distributed). A control page with a missing image checks that the probe does
see a broken image and the console error it causes."""
from __future__ import annotations

import asyncio
import json
import shutil
import struct
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from reports.sweep import run_sweep, spec_from_dict, write_report

from ..conftest import _apt_install

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def _chromium() -> str:
    reason = _apt_install(["chromium"], lambda: shutil.which("chromium") is not None)
    path = shutil.which("chromium")
    if reason or not path:
        pytest.fail(f"Debian package chromium is not installed and could not be installed ({reason})")
    return path


class Browser:
    """One headless Chromium with a DevTools websocket on its first page."""

    def __init__(self, exe: str, profile: Path) -> None:
        self.proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
                                      "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            targets = json.loads(resp.read())
        self.ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def probe(self, url: str) -> dict:
        return asyncio.run(self._probe(url))

    async def _probe(self, url: str) -> dict:
        from tornado.websocket import websocket_connect

        ws = await websocket_connect(self.ws_url, max_message_size=256 * 1024 * 1024)
        ids = iter(range(1, 1 << 30))
        errors: list[str] = []
        loaded = False

        async def call(method: str, **params) -> dict:
            nonlocal loaded
            i = next(ids)
            ws.write_message(json.dumps({"id": i, "method": method, "params": params}))
            while True:
                msg = json.loads(await asyncio.wait_for(ws.read_message(), 60))
                if msg.get("id") == i:
                    if "error" in msg:
                        raise RuntimeError(f"{method}: {msg['error']}")
                    return msg["result"]
                handle(msg)

        def handle(msg: dict) -> None:
            nonlocal loaded
            m, p = msg.get("method"), msg.get("params", {})
            if m == "Page.loadEventFired":
                loaded = True
            elif m == "Runtime.exceptionThrown":
                errors.append(f"exception: {p['exceptionDetails'].get('text')}")
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                errors.append(f"console.{p['type']}: {[a.get('value') for a in p.get('args', [])]}")
            elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
                errors.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")

        for domain in ("Page", "Runtime", "Log"):
            await call(f"{domain}.enable")
        await call("Page.navigate", url=url)
        deadline = time.monotonic() + 60
        while not loaded and time.monotonic() < deadline:
            handle(json.loads(await asyncio.wait_for(ws.read_message(), 60)))
        images = (await call("Runtime.evaluate", returnByValue=True, awaitPromise=True, expression=(
            "Promise.all(Array.from(document.images).map(i => i.decode().then(() => true, () => false)))"
            ".then(ok => Array.from(document.images).map((i, k) => "
            "({src: i.src.slice(0, 40), ok: ok[k] && i.complete && i.naturalWidth > 0, w: i.naturalWidth})))")))
        layout = (await call("Runtime.evaluate", returnByValue=True, expression=LAYOUT_PROBE))["result"]["value"]
        shot = await call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        # let late log events arrive
        try:
            while True:
                handle(json.loads(await asyncio.wait_for(ws.read_message(), 0.5)))
        except asyncio.TimeoutError:
            pass
        ws.close()
        try:  # wait for the close handshake so the socket is released inside this event loop
            while await asyncio.wait_for(ws.read_message(), 5) is not None:
                pass
        except asyncio.TimeoutError:
            pass
        return {"loaded": loaded, "errors": errors, "images": images["result"]["value"], "png": shot["data"],
                "layout": layout}


#: measured in the page: text boxes whose content is wider than the box, the page's horizontal
#: overflow, and per plot the points, their labels (with whether each lies inside the plot) and
#: the points the legend covers
LAYOUT_PROBE = r"""(() => {
  const overflow = [];
  for (const el of document.querySelectorAll('p, li, td, th, h1, h2, h3, figcaption')) {
    if (el.scrollWidth > el.clientWidth + 1) overflow.push(el.tagName + ': ' + el.textContent.slice(0, 60));
  }
  const inside = (a, b) => a.left >= b.left - 1 && a.right <= b.right + 1 && a.top >= b.top - 1 && a.bottom <= b.bottom + 1;
  const meets = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const plots = [];
  for (const fig of document.querySelectorAll('figure.plot')) {
    const svg = fig.querySelector('svg');
    const box = svg.getBoundingClientRect();
    const points = Array.from(svg.querySelectorAll('[id^="pareto-point-"]'));
    const labels = Array.from(svg.querySelectorAll('[id^="pareto-label-"], [id^="area-label-"]'));
    const legend = svg.querySelector('#plot-legend');
    const lbox = legend ? legend.getBoundingClientRect() : null;
    plots.push({id: fig.id, points: points.map(p => p.id.split('-').pop()),
                labels: labels.map(l => ({n: l.id.split('-').pop(), text: l.textContent.trim(),
                                          inside: inside(l.getBoundingClientRect(), box)})),
                covered: lbox ? points.filter(p => meets(p.getBoundingClientRect(), lbox)).map(p => p.id) : [],
                legend: !!legend});
  }
  return {overflow, pageWidth: document.documentElement.scrollWidth, viewport: window.innerWidth, plots};
})()"""


def _artifacts() -> Path:
    import os

    root = Path(os.environ.get("LOWBIT_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "out" / "test-artifacts"))
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    exe = _chromium()
    b = Browser(exe, tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("report")
    spec = spec_from_dict({"name": "browser", "metrics": ["latency", "accuracy"], "layers": 1,
                           "axes": {"recipe": ["INT8", "FP16", "FP8"], "seq_len": 32, "array": ["8x8", "16x16"]}})
    run_sweep(spec, base / "results", workers=1, cache=base / "cache", progress=False)
    return write_report(base / "results", base / "report")


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_report_loads_in_chromium_with_images_and_screenshot(browser, report, tmp_path) -> None:
    import base64

    html = report.read_text()
    assert "http://" not in html and "https://" not in html  # nothing to fetch from a network
    n_img = html.count("<img ")
    assert n_img >= 1 and html.count('<figure class="plot"') >= 1  # bar plots as PNG, Pareto plots inline SVG
    r = browser.probe(report.as_uri())
    assert r["loaded"]
    assert r["errors"] == []
    assert len(r["images"]) == n_img and all(i["ok"] for i in r["images"]), r["images"]
    png = base64.b64decode(r["png"])
    w, h = _png_size(png)
    assert w > 300 and h > 1000
    (_artifacts() / "report_browser.png").write_bytes(png)
    layout = r["layout"]
    assert layout["overflow"] == [], layout["overflow"]
    assert layout["pageWidth"] <= layout["viewport"], layout
    pareto = [p for p in layout["plots"] if p["id"].startswith("pareto_")]
    assert [p["id"] for p in pareto] == ["pareto_latency_s"]
    for plot in layout["plots"]:
        assert plot["legend"] and plot["covered"] == [], plot
        assert all(lab["inside"] and lab["text"] for lab in plot["labels"]), plot["labels"]
    for plot in pareto:  # one point per design point, each with its own label
        assert len(plot["points"]) == 6
        assert sorted(plot["points"]) == sorted(lab["n"] for lab in plot["labels"])
    # the plots also exist as separate files for papers
    plots = sorted(p.name for p in (report.parent / "plots").iterdir())
    assert "pareto_latency_s.svg" in plots and "pareto_latency_s.png" in plots


def test_probe_sees_a_broken_image(browser, tmp_path) -> None:
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head>'
                    '<body><img src="missing.png" alt="x"></body></html>')
    r = browser.probe(page.as_uri())
    assert r["loaded"]
    assert [i["ok"] for i in r["images"]] == [False]
    assert any("missing.png" in e or "ERR_FILE_NOT_FOUND" in e for e in r["errors"]), r["errors"]
