"""Browser fixtures: the app behind real waitress over a real SQLite file, and Debian's Chromium sized as a phone.

Every test gets its own database (the demo county), its own server on a free port and its own browser
context; the browser itself is started once per session. Screenshots go to test-artifacts/browser/<test>/.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from app import create_app
from app.services.demo import DEMO_PASSWORD

from .phonekit import CHROMIUM, HANDLER, PHONE, LiveServer, camera_photo, dispatched_ticket, launch

# CI shares two cores with everything else: give htmx round trips and their debounces time to settle
from playwright.sync_api import expect  # noqa: E402

expect.set_options(timeout=15_000)

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE.parent.parent / "test-artifacts" / "browser"
NO_CHROMIUM = not os.access(CHROMIUM, os.X_OK)


def pytest_collection_modifyitems(config, items):
    """Skip this folder, saying why, on a machine without Debian's chromium (install.sh --dev installs it)."""
    if not NO_CHROMIUM:
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing: run ./install.sh --dev (apt-get install chromium)")
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the whole session."""
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    browser = launch(pw)
    yield browser
    browser.close()
    pw.stop()


@pytest.fixture
def live(cfg, fast_hashes, clock):
    """The real app (CSRF on) served by waitress on 127.0.0.1 over this test's SQLite file, at a frozen time."""
    server = LiveServer(create_app(cfg))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def ticket(db, cfg, clock) -> str:
    """A complaint dispatched to 青石镇 a moment ago; its number."""
    return dispatched_ticket(db, cfg, clock.current)


@pytest.fixture(scope="session")
def photos(tmp_path_factory):
    """Camera photos, made once: `big` is 4000x3000 and several MB; `small` is 1200x900. Both carry GPS."""
    d = tmp_path_factory.mktemp("photos")
    return {
        "big": camera_photo(d / "IMG_20260302_093015.jpg"),
        "small": camera_photo(d / "IMG_20260302_093016.jpg", size=(1200, 900), quality=85),
    }


class Phone:
    """A browser context dressed as a phone, with its page, a screenshot helper and a log of every URL asked for."""

    def __init__(self, browser, live: LiveServer, shots: Path, js: bool):
        self.live = live
        self.context = browser.new_context(**PHONE, base_url=live.url, java_script_enabled=js)
        self.context.set_default_timeout(15_000)
        self.urls: list[str] = []
        self.context.on("request", lambda req: self.urls.append(req.url))
        self.page = self.context.new_page()
        self.shots = shots
        self.step = 0

    def shot(self, name: str) -> None:
        """Save a full-page screenshot as NN-name.png."""
        self.step += 1
        self.page.screenshot(path=str(self.shots / f"{self.step:02d}-{name}.png"), full_page=True)

    def login(self, username: str = HANDLER) -> None:
        """Sign in through the login form, as a person would."""
        from playwright.sync_api import expect

        self.page.goto("/login")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", DEMO_PASSWORD)
        self.page.locator("#login button[type=submit]").tap()
        expect(self.page.locator("#home")).to_be_visible()

    def foreign(self) -> list[str]:
        """Every URL the browser asked for that is not on our own server."""
        return [u for u in self.urls if not (u.startswith(self.live.url + "/") or u.startswith(("data:", "blob:")))]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def phone_factory(chromium, live, request):
    """Make phone-sized browser contexts (JavaScript on or off); all are closed and checked at the end."""
    shots = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    made: list[Phone] = []

    def make(js: bool = True) -> Phone:
        p = Phone(chromium, live, shots, js)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()
    foreign = [u for p in made for u in p.foreign()]
    assert not foreign, f"the pages asked for something outside our server: {foreign}"


@pytest.fixture
def phone(phone_factory) -> Phone:
    """A phone with JavaScript on."""
    return phone_factory(js=True)
