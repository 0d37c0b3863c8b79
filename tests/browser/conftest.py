"""Browser tests: the real server (`orderledger serve --demo-if-empty`) on 127.0.0.1 with
its demo data, driven by Playwright in Debian's Chromium (`executable_path`, no download).

Without a Chromium these tests skip with a message on a newcomer's machine; CI installs it
and sets ORDERLEDGER_REQUIRE_BROWSER=1, which turns the skip into a failure. Screenshots
go to `var/test-artifacts/screenshots/` (ORDERLEDGER_ARTIFACTS moves them).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
ROOT = Path(__file__).resolve().parents[2]


def chromium_path() -> str | None:
    return os.environ.get("ORDERLEDGER_CHROMIUM") or shutil.which("chromium")


def artefacts() -> Path:
    folder = Path(os.environ.get("ORDERLEDGER_ARTIFACTS", ROOT / "var" / "test-artifacts"))
    (folder / "screenshots").mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class DemoUser:
    name: str
    role: str
    key: str
    password: str


@dataclass
class Served:
    """The running server: its address, its demo users, and an API client per role."""

    base: str
    users: dict[str, DemoUser]
    folder: Path
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def api(self, role: str = "admin") -> httpx.Client:
        """An API client signed with the demo user's key in `role`."""
        if role not in self.clients:
            self.clients[role] = httpx.Client(
                base_url=self.base, timeout=30,
                headers={"Authorization": f"Bearer {self.users[role].key}"},
            )  # fmt: skip
        return self.clients[role]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`orderledger serve --demo-if-empty` on an empty SQLite ledger in a temporary folder."""
    if chromium_path() is None:
        if os.environ.get("ORDERLEDGER_REQUIRE_BROWSER") == "1":
            pytest.fail("no Chromium (apt-get install chromium) and ORDERLEDGER_REQUIRE_BROWSER=1")
        pytest.skip("no Chromium on this machine: apt-get install chromium to run browser tests")
    folder = tmp_path_factory.mktemp("served")
    port = _free_port()
    env = {
        **os.environ,
        # The code under test, not whichever checkout the virtualenv was installed from.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "ORDERLEDGER_DATABASE_URL": f"sqlite:///{folder}/ledger.db",
        "ORDERLEDGER_SIGN_IN_FAILURE_DELAY_SECONDS": "0",
        "ORDERLEDGER_PROJECTION_POLL_SECONDS": "0.2",
    }
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", "from api.cli import main; main()", "serve", "--demo-if-empty",
         "--port", str(port)],
        cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process, folder / "server.log")
        served = Served(base, _demo_users(folder / "demo-credentials.txt"), folder)
        yield served
        for client in served.clients.values():
            client.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _wait_until_up(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 240  # the demo data loads first
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server stopped: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the server did not answer in time: {log.read_text()[-3000:]}")


def _demo_users(path: Path) -> dict[str, DemoUser]:
    users = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, role, key, password = line.split("\t")
            users[role] = DemoUser(name, role, key, password)
    return users


@pytest.fixture(scope="session")
def browser(served: Served) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True
        )
        yield launched
        launched.close()


class Console:
    """One signed-in browser page, with the errors it logged (a page must log none)."""

    def __init__(self, page: Any, served: Served) -> None:
        self.page = page
        self.served = served
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                self.errors.append(f"console {message.type}: {message.text}")
                if message.type == "error"
                else None
            ),
        )

    def open(self, path: str) -> Any:
        self.page.goto(self.served.base + path)
        return self.page

    def sign_in(self, role: str, then: str = "/console") -> Any:
        user = self.served.users[role]
        self.open(f"/console/sign-in?next={then}" if then != "/console" else "/console/sign-in")
        self.page.fill('input[name="username"]', user.name)
        self.page.fill('input[name="password"]', user.password)
        self.page.click('button[type="submit"]')
        self.page.wait_for_load_state("networkidle")
        return self.page

    def shot(self, name: str) -> Path:
        """Save a full-page screenshot as a test artefact."""
        path = artefacts() / "screenshots" / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def _console(browser: Any, served: Served, viewport: dict[str, int]) -> Iterator[Console]:
    context = browser.new_context(viewport=viewport, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    opened = Console(page, served)
    yield opened
    context.close()
    assert opened.errors == [], "the page logged errors (a blocked script or style shows here)"


@pytest.fixture
def console(browser: Any, served: Served) -> Iterator[Console]:
    """A fresh browser context at 1280×800 (no session yet)."""
    yield from _console(browser, served, DESKTOP)


@pytest.fixture
def phone(browser: Any, served: Served) -> Iterator[Console]:
    """A fresh browser context at a phone's width (390×844)."""
    yield from _console(browser, served, PHONE)
