"""Shared fixtures: people in each role, a clean storage folder, and real-peer requirements."""

import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User

from clinic import roles

# CI sets PORTAL_REQUIRE_PEERS=1: a test that would skip for a missing DCMTK, Orthanc, Chromium
# or Redis fails instead, so "green" always means the real peers were exercised.
REQUIRE_PEERS = os.environ.get("PORTAL_REQUIRE_PEERS", "") == "1"


def require(condition: bool, reason: str) -> None:
    """Skip (or, under PORTAL_REQUIRE_PEERS=1, fail) when a real peer is unavailable."""
    if condition:
        return
    if REQUIRE_PEERS:
        pytest.fail(f"required peer unavailable: {reason}")
    pytest.skip(reason)


def require_executable(name: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"{name} is not installed")
    return path


# --- Real headless Chromium (Debian's), driven by Playwright's sync API ----------------------

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TABLET = {"width": 1024, "height": 768}
BROWSER_WAIT_MS = 20_000


@pytest.fixture
def chromium_browser(monkeypatch):
    """A headless Chromium for the test; close it with the test."""
    chromium = require_executable("chromium")
    # Playwright's sync API keeps an event loop on this thread, which makes Django refuse ORM
    # calls here; the tests' own queries are plain synchronous ones, so allow them.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def browser_page_open(browser):
    """A fresh tablet-sized (1024×768) page in its own context (own cookies), downloads on."""
    context = browser.new_context(viewport=TABLET, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(BROWSER_WAIT_MS)
    return page


@pytest.fixture
def browser_page(chromium_browser):
    return browser_page_open(chromium_browser)


def page_watch(page):
    """Collect the page's script errors in `page.errors`; print its console lines and failed
    requests (they show in a failing test's report)."""
    page.errors = []
    page.on("pageerror", lambda error: (page.errors.append(str(error)), print(error.stack)))
    page.on("console", lambda message: print(f"console.{message.type}: {message.text}"))
    page.on(
        "response",
        lambda r: r.status >= 400 and print(f"HTTP {r.status} {r.request.method} {r.url}"),
    )
    return page


@pytest.fixture(autouse=True)
def _isolated_storage(settings, tmp_path):
    """Every test stores DICOM and thumbnails in its own folder."""
    location = tmp_path / "files"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    settings.DICOM_MIN_FREE_BYTES = 0
    # Password hashing is deliberately slow; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    yield location


def _person(username: str, role: str | None) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username)
    if role:
        roles.roles_sync()
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def front_desk(db):
    return _person("frontdesk", roles.FRONT_DESK)


@pytest.fixture
def tech(db):
    return _person("tech", roles.TECHNICIAN)


@pytest.fixture
def vet(db):
    return _person("vet", roles.VETERINARIAN)


@pytest.fixture
def administrator(db):
    return _person("administrator", roles.ADMINISTRATOR)


@pytest.fixture
def outsider(db):
    """Logged in, but in no role: sees nothing of the clinic."""
    return _person("outsider", None)


@pytest.fixture
def dicom_dir(tmp_path) -> Path:
    path = tmp_path / "dicom-in"
    path.mkdir()
    return path
