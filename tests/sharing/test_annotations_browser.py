"""A specialist measures in the portal's viewer in real headless Chromium, under an anonymized
share: the clinic's length shows read-only, the specialist's own is saved under the share (by
the share's replacement UIDs) and comes back after a reload."""

import math

import pytest

from imaging.annotations import annotation_create
from imaging.models import Annotation, Instance
from sharing import shares
from sharing.models import AccessAction
from tests.conftest import browser_page_open, page_watch, require
from tests.frontend import viewer_data

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT_MS = 30_000
SCREENSHOT = "/tmp/sharing-measure.png"
SAVED_LENGTHS = "[data-tool='length'][data-annotation-state='saved']"


@pytest.fixture
def page(chromium_browser):
    from frontend.viewer import viewer_bundle

    require(viewer_bundle() is not None, "the viewer is not built (make viewer)")
    page = page_watch(browser_page_open(chromium_browser))
    page.set_default_timeout(WAIT_MS)
    return page


def _drag(page, start, end):
    def point(column, row):
        at = page.evaluate("([c, r]) => window.portalViewer.imageToPage(c, r)", [column, row])
        return at["x"], at["y"]

    page.mouse.move(*point(*start))
    page.mouse.down()
    page.mouse.move(*point(*end), steps=8)
    page.mouse.up()


def _open_viewer(page, url):
    page.goto(url)
    page.wait_for_selector("#viewer[data-state='ready']")
    page.wait_for_selector("#viewer[data-annotations-loaded='true']")


def test_a_specialist_measures_under_an_anonymized_share(live_server, vet, page):
    from playwright.sync_api import expect

    study = viewer_data.dr_study(rows=400, columns=600, spacing="pixel")
    instance = Instance.objects.get(series__study=study)
    clinic = annotation_create(
        study=study, author=vet, sop_instance_uid=instance.sop_instance_uid, frame=1,
        tool="length", geometry={"points": [[50, 50], [350, 50]]},
    )  # fmt: skip
    created = shares.share_create(study=study, user=vet, email="heart@example.org",
                                  anonymize=True, include_annotations=True)  # fmt: skip
    share = created.share
    page.goto(live_server.url + created.path)
    viewer_url = f"{live_server.url}/share/v/{share.pk}/viewer"
    _open_viewer(page, viewer_url)

    theirs = page.locator(f"[data-annotation-id='{clinic.pk}']")
    assert float(theirs.locator("[data-value-name='length']").get_attribute("data-value")) == 60.0
    assert "read-only" in theirs.inner_text()
    assert theirs.locator("[data-delete-annotation]").count() == 0

    page.locator("[data-tool=Length]").click()
    _drag(page, (100, 100), (400, 500))
    expect(page.locator(SAVED_LENGTHS)).to_have_count(2)
    mark = Annotation.objects.get(share_key=f"share:{share.pk}")
    assert mark.instance == instance and mark.author is None
    expected = math.hypot(300, 400) * viewer_data.DR_SPACING  # 100 mm
    [length] = [v for v in mark.values if v["name"] == "length"]
    assert length["unit"] == "mm" and length["value"] == pytest.approx(expected, abs=1.5)
    mine = page.locator(f"[data-annotation-id='{mark.pk}']")
    assert "read-only" not in mine.inner_text()
    page.screenshot(path=SCREENSHOT)
    assert share.accesses.filter(action=AccessAction.MEASURED).exists()

    # After a reload both come back from the share's door; nothing was changed of the clinic's.
    _open_viewer(page, viewer_url)
    expect(page.locator(SAVED_LENGTHS)).to_have_count(2)
    assert page.locator(f"[data-annotation-id='{mark.pk}']").count() == 1
    clinic.refresh_from_db()
    assert clinic.geometry == {"points": [[50, 50], [350, 50]]} and clinic.share_key == ""
    assert not page.errors, page.errors
