"""Open the built site in headless Chromium (Debian's ``chromium``), as a reader would.

A small Chrome DevTools protocol client over ``websocket-client`` (already a Jupyter
dependency): it sees what selenium's logs would hide or need a driver for (console messages,
failed loads, JavaScript exceptions), sets a phone's viewport, and takes screenshots; the only
binary it needs is the browser. The site is served over HTTP on 127.0.0.1, as GitHub Pages
serves it, not from ``file://``.

    with serve(site) as base, Chromium() as browser:
        report = browser.visit(base + "index.html")
"""

import base64
import contextlib
import functools
import http.server
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request

PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
DESKTOP = {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False}

# Run in the page once it has loaded: what a reader would see.
INSPECT = """JSON.stringify({
  images: [...document.images].map(i => ({src: i.currentSrc || i.src,
                                          loaded: i.complete && i.naturalWidth > 0})),
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  ids: [...document.querySelectorAll('[id]')].map(e => e.id),
  overflow: document.documentElement.scrollWidth - window.innerWidth,
  title: document.title,
})"""


def chromium_path():
    """Debian's chromium, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextlib.contextmanager
def serve(folder):
    """Serve ``folder`` on 127.0.0.1; yields the base URL (ends with /)."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class Chromium:
    """One headless Chromium with one page, driven over the DevTools protocol."""

    def __init__(self, viewport=PHONE, timeout=30):
        import websocket                                   # websocket-client

        self.timeout, self.events, self._id = timeout, [], 0
        self.profile = tempfile.mkdtemp(prefix="boxloc-chromium-")
        self.process = subprocess.Popen(
            # --no-sandbox: Chromium refuses to start its sandbox as root (CI runs as root)
            [chromium_path(), "--headless=new", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
             "--remote-debugging-port=0", f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        port = self._devtools_port()
        listing = urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10)
        targets = json.load(listing)
        page = next(t for t in targets if t["type"] == "page")
        self.socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=timeout,
                                                  suppress_origin=True)
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.set_viewport(viewport)

    def _devtools_port(self):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if match:
                return int(match[1])
            if not line and self.process.poll() is not None:
                break
        raise RuntimeError("chromium did not start its DevTools server")

    def call(self, method, **params):
        """Send one command and return its result; events that arrive meanwhile are kept."""
        self._id += 1
        self.socket.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if any(e.get("method") == event for e in self.events):
                return
            self.events.append(json.loads(self.socket.recv()))
        raise TimeoutError(event)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def set_viewport(self, viewport):
        self.call("Emulation.setDeviceMetricsOverride", **viewport)

    def errors(self):
        """Console errors, failed loads and uncaught exceptions since the last visit."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                found.append(" ".join(str(a.get("value", a.get("description", "")))
                                      for a in params["args"]))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(f"{params['entry']['text']} {params['entry'].get('url', '')}")
            elif method == "Runtime.exceptionThrown":
                found.append(params["exceptionDetails"].get("exception", {}).get(
                    "description", params["exceptionDetails"]["text"]))
        return found

    def visit(self, url, settle=0.2):
        """Load ``url``; returns what INSPECT sees plus the page's errors."""
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")
        time.sleep(settle)                        # scripts that run just after load
        report = json.loads(self.evaluate(INSPECT))
        report["errors"] = self.errors()
        return report

    def poll(self, expression, timeout=10):
        """The value of ``expression`` once it is truthy (or its last value after timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value or time.monotonic() > deadline:
                return value
            time.sleep(0.2)

    def screenshot(self, path, full_page=False):
        params = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", **params)["data"]))

    def close(self):
        with contextlib.suppress(Exception):
            self.socket.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


SEARCH_HITS = "document.querySelectorAll('#search-results li').length"


def screenshots(site, folder, page):
    """The README's pictures of the site: the front page and the notebook ``page`` (a path in
    the site) on a desktop, the notebook page on a phone."""
    shots = [("site-front.png", "index.html", DESKTOP), ("site-notebook.png", page, DESKTOP),
             ("site-phone.png", page, PHONE)]
    with serve(site) as base, Chromium() as browser:
        for name, path, viewport in shots:
            browser.set_viewport(viewport)
            browser.visit(base + path, settle=1.0)
            if name == "site-notebook.png":                    # a figure, not only the title
                browser.evaluate("document.querySelector('.cell_output img')"
                                 ".scrollIntoView({block: 'center'})")
                time.sleep(0.5)
            browser.screenshot(folder / name)
    return [folder / name for name, _, _ in shots]
