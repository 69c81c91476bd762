"""The viewer embedded in a share page, in real headless Chromium under the share's strict
Content-Security-Policy: it starts with no policy violation, offers none of the clinic's
features (key images, saving into the study), and keeps the clinic's annotations locked."""

import pytest

from imaging.annotations import annotation_create
from imaging.models import Instance
from sharing import shares
from tests.conftest import browser_page_open, require
from tests.frontend import viewer_data

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT_MS = 30_000

# Runs before the page's own scripts (Playwright injects it outside the page's policy).
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sample} at ${event.sourceFile}:${event.lineNumber}:${event.columnNumber}`);
});
"""


@pytest.fixture
def page(chromium_browser):
    from frontend.viewer import viewer_bundle

    require(viewer_bundle() is not None, "the viewer is not built (make viewer)")
    page = browser_page_open(chromium_browser)
    page.set_default_timeout(WAIT_MS)
    page.add_init_script(RECORD_VIOLATIONS)
    page.errors = []
    page.console_errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda m: _console_error(page, m))
    return page


def _console_error(page, message):
    """Records the page's console errors, except the browser's own /favicon.ico guess."""
    where = (message.location or {}).get("url", "")
    if message.type == "error" and not where.endswith("/favicon.ico"):
        page.console_errors.append(f"{message.text} ({where})")


def test_the_share_viewer_starts_under_the_strict_policy(live_server, vet, page):
    from playwright.sync_api import expect

    study = viewer_data.dr_study(rows=400, columns=600, spacing="pixel")
    instance = Instance.objects.get(series__study=study)
    clinic = annotation_create(
        study=study, author=vet, sop_instance_uid=instance.sop_instance_uid, frame=1,
        tool="length", geometry={"points": [[50, 50], [350, 50]]},
    )  # fmt: skip
    created = shares.share_create(study=study, user=vet, email="heart@example.org",
                                  include_annotations=True)  # fmt: skip
    page.goto(live_server.url + created.path)
    images = []
    page.on("response", lambda r: images.append(r) if "/rendered?" in r.url else None)
    response = page.goto(f"{live_server.url}/share/v/{created.share.pk}/viewer")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp

    page.wait_for_selector("#viewer[data-state='ready']")
    page.wait_for_selector("#viewer[data-annotations-loaded='true']")
    assert page.evaluate("window.cspViolations") == []
    assert page.console_errors == []
    assert not page.errors, page.errors
    # The page's early metadata request ran (it is a separate script, not an inline one).
    assert page.evaluate("window.portalViewerPrefetch === null")
    # The first image's rendered preview came through the share's own DICOMweb door.
    preview = page.evaluate("JSON.parse(document.getElementById('viewer-config').textContent)")
    assert preview["preview"]["rendered"].startswith(f"/share/v/{created.share.pk}/")
    assert [(r.status, r.headers["content-type"]) for r in images] == [(200, "image/jpeg")]
    assert preview["preview"]["rendered"] in images[0].url
    # Its first frame is fetched ahead through the same door.
    assert preview["preview"]["frame"].startswith(f"/share/v/{created.share.pk}/")

    # Only the clinic has key images and saving into the study.
    assert page.locator("[data-action='keyImage']").count() == 0
    assert page.locator("[data-action='exportAnnotations']").count() == 0
    page.keyboard.press("y")  # the key image shortcut does nothing here
    theirs = page.locator(f"[data-annotation-id='{clinic.pk}']")
    assert "read-only" in theirs.inner_text()
    assert page.evaluate("(id) => window.portalViewer.isLocked(id)", clinic.pk)

    # The specialist's own measurement is allowed, drawn and saved under the same policy.
    page.locator("[data-tool=Length]").click()
    _drag(page, (100, 100), (400, 500))
    saved = page.locator("[data-tool='length'][data-annotation-state='saved']")
    expect(saved).to_have_count(2)
    assert page.evaluate("window.cspViolations") == []
    assert page.console_errors == []
    assert not page.errors, page.errors


def _drag(page, start, end):
    def point(column, row):
        at = page.evaluate("([c, r]) => window.portalViewer.imageToPage(c, r)", [column, row])
        return at["x"], at["y"]

    page.mouse.move(*point(*start))
    page.mouse.down()
    page.mouse.move(*point(*end), steps=8)
    page.mouse.up()
