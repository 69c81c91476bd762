"""The finder in real headless Chromium on a tablet: paste a key into the top bar, see where
the study is."""

import pytest
from pydicom.uid import generate_uid

from imaging import ingest
from imaging.synthetic import make_dataset
from tests.conftest import page_watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/frontend-where.png"


def test_a_technician_pastes_an_accession_and_sees_where_the_study_is(
    live_server, tech, browser_page, settings
):
    from playwright.sync_api import expect

    settings.CELERY_BROKER_URL = None
    ds = make_dataset(
        study_uid=generate_uid(),
        patient_name="Marlowe^Biscuit",
        patient_id="P-TAB",
        accession="ACC-TAB1",
    )
    received = ingest.instance_receive_dataset(dataset=ds, calling_ae="DR_ROOM1")
    ingest.studies_complete(study_ids=[received.instance.series.study_id])

    page = page_watch(browser_page)
    page.goto(live_server.url + "/login/")
    page.get_by_label("User name").fill("tech")
    page.get_by_label("Password").fill("pw-tech")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Arrivals")).to_be_visible()

    box = page.locator("#nav-finder-q")
    expect(box).to_be_visible()
    # On a 1024-px tablet the box sits inside the viewport, wide enough to read a pasted UID.
    bounds = box.bounding_box()
    assert bounds["x"] >= 0 and bounds["x"] + bounds["width"] <= 1024
    assert bounds["width"] >= 150
    box.fill("acc-tab1")
    box.press("Enter")

    expect(page.get_by_role("heading", name="Where is it?")).to_be_visible()
    hit = page.locator("[data-finder-hit]")
    expect(hit).to_have_count(1)
    expect(hit.locator("[data-where=here]")).to_have_text("Here: complete, 1 instance in 1 series")
    expect(hit.get_by_text("found by accession number")).to_be_visible()
    # Nothing on the results page is wider than the tablet's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    page.screenshot(path=SCREENSHOT, full_page=True)

    hit.get_by_role("link").first.click()
    expect(page.locator(".study-timeline summary")).to_be_visible()
    page.locator(".study-timeline summary").click()
    expect(page.locator(".timeline li", has_text="Received")).to_be_visible()

    page.locator("#nav-finder-q").fill("1.2.826.0.1.3680043.8.498.999")
    page.locator("#nav-finder-q").press("Enter")
    expect(page.locator("[data-finder-missing]")).to_contain_text(
        "Not received: no association has brought this UID."
    )
    assert page.errors == []
