"""The arrivals page in real headless Chromium: a modality sends, the technician sees it live."""

import pytest
from pydicom.uid import generate_uid
from pynetdicom import AE

from clinic.queue import wait_for_local_tasks
from imaging.models import Study, StudyStatus
from imaging.synthetic import SOP_CLASS_FOR_MODALITY, make_dataset
from tests.dicom_server import running_listener

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT_MS = 20_000
ARRIVALS_SCREENSHOT = "/tmp/frontend-arrivals.png"
STUDY_SCREENSHOT = "/tmp/frontend-study.png"


@pytest.fixture
def embedded_tasks(settings):
    """Thumbnails render on this process's task thread, as in the embedded mode, even when the
    suite runs with REDIS_URL (no worker consumes that queue here)."""
    settings.CELERY_BROKER_URL = None


def _thorax_views(study_uid: str) -> list:
    """A thorax study: three views, each its own series, sent out of series-number order; the
    right lateral was taken twice."""
    views = [(3, "VD", "Thorax VD", 1), (1, "RL", "Thorax R LAT", 1), (2, "LL", "Thorax L LAT", 1)]
    views.append((1, "RL", "Thorax R LAT", 2))
    series_uids = {number: generate_uid() for number in (1, 2, 3)}
    return [
        make_dataset(
            study_uid=study_uid,
            series_uid=series_uids[number],
            series_number=number,
            instance_number=instance_number,
            view_position=position,
            series_description=description,
            patient_name="Smith^Rex",
            patient_id="P-BROWSER",
            accession="ACC-77",
            rows=128,
            columns=128,
        )
        for number, position, description, instance_number in views
    ]


def test_a_sent_study_appears_live_and_opens_with_thumbnails(
    live_server, tech, embedded_tasks, browser_page, settings
):
    from playwright.sync_api import expect

    page = browser_page
    page.goto(live_server.url + "/login/")
    page.get_by_label("User name").fill("tech")
    page.get_by_label("Password").fill("pw-tech")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Arrivals")).to_be_visible()
    expect(page.get_by_text("Nothing received yet today")).to_be_visible()
    # Survives only if the page is never reloaded.
    page.evaluate("window.stillTheSamePage = true")

    study_uid = generate_uid()
    datasets = _thorax_views(study_uid)
    modality = AE(ae_title="DR_ROOM_1")
    modality.add_requested_context(SOP_CLASS_FOR_MODALITY["DX"])
    with running_listener(ae_title=settings.DICOM_AE_TITLE) as (host, port, ae_title):
        association = modality.associate(host, port, ae_title=ae_title)
        assert association.is_established
        try:
            assert association.send_c_store(datasets[0]).Status == 0x0000
            # Mid-association the study shows as receiving, without a reload.
            row = page.locator(".arrival", has_text="Rex")
            expect(row).to_be_visible(timeout=WAIT_MS)
            expect(row.get_by_text("Receiving")).to_be_visible()
            for dataset in datasets[1:]:
                assert association.send_c_store(dataset).Status == 0x0000
        finally:
            association.release()

    assert Study.objects.get(study_instance_uid=study_uid).status == StudyStatus.COMPLETE
    assert wait_for_local_tasks(timeout=60)
    expect(row.get_by_text("Complete")).to_be_visible(timeout=WAIT_MS)
    expect(row.locator("img.thumb")).to_have_count(3, timeout=WAIT_MS)
    expect(row.get_by_text("Thumbnails pending")).to_have_count(0)
    assert page.evaluate("window.stillTheSamePage") is True
    _wait_images_loaded(page, ".arrival img.thumb")
    page.screenshot(path=ARRIVALS_SCREENSHOT, full_page=True)

    row.get_by_role("link", name="Rex").click()
    expect(page.get_by_role("heading", name="Thorax 3 view")).to_be_visible()
    headings = page.locator(".series h3").all_inner_texts()
    assert headings == [
        "Series 1 · Thorax R LAT",
        "Series 2 · Thorax L LAT",
        "Series 3 · Thorax VD",
    ]
    _wait_images_loaded(page, ".series img.thumb-lg")
    assert page.locator(".series img.thumb-lg").count() == 3
    expect(page.locator(".strip img.thumb")).to_have_count(2)  # only a series of several
    _wait_images_loaded(page, ".strip img.thumb")
    page.screenshot(path=STUDY_SCREENSHOT, full_page=True)


def _wait_images_loaded(page, selector: str) -> None:
    """Every image matching `selector` has decoded pixels (naturalWidth > 0)."""
    # Thumbnails load lazily; below the fold of a 768-pixel screen they would wait for a scroll.
    page.locator(selector).evaluate_all(
        "images => images.forEach(img => { img.loading = 'eager'; })"
    )
    page.wait_for_function(
        """selector => {
            const images = [...document.querySelectorAll(selector)];
            return images.length > 0 && images.every(img => img.complete && img.naturalWidth > 0);
        }""",
        arg=selector,
        timeout=WAIT_MS,
    )
