"""One live server (uvicorn in a thread, temp DB and store) and one headless Chromium for the browser tests.

Chromium is Debian's (``chromium`` on PATH), driven by the Python playwright package; nothing is
downloaded.  A missing browser or dashboard build fails these tests with the command that fixes
it: they never pass silently.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@dataclass
class LiveServer:
    url: str
    token: str
    state_dir: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    import uvicorn

    from ecgscope.server import Settings, create_app
    from ecgscope.server.auth import create_user, issue_token

    dist = REPO / "web" / "dist"
    if not (dist / "index.html").is_file():
        pytest.fail(f"the dashboard is not built ({dist} is missing): run `make web` "
                    "(npm ci && npm run build in web/)")
    state = tmp_path_factory.mktemp("live-server")
    app = create_app(Settings(state_dir=state, web_dist=dist, workers=2))
    ctx = app.state.ctx
    ctx.start()
    with ctx.db.session() as s:
        token = issue_token(s, create_user(s, "clinician", role="member", team="ward"))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            pytest.fail("the live server did not start")
        time.sleep(0.05)
    yield LiveServer(f"http://127.0.0.1:{port}", token, state)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("Debian's chromium is not installed: run `apt-get install -y chromium poppler-utils` "
                    "(make test does it when run as root)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, live_server):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, device_scale_factor=1,
                                  accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    pg.goto(live_server.url + "/")
    pg.get_by_test_id("token-input").fill(live_server.token)
    pg.get_by_test_id("token-save").click()
    pg.get_by_test_id("whoami").wait_for()
    yield pg
    context.close()
