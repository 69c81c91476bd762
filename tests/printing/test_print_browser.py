"""Printing from the viewer in real headless Chromium: the Print dialog queues a job, the
portal prints it on a print SCP in the background, and the dialog follows it to "Printed"."""

import pytest

from printing.models import PrintJob, PrintState
from tests.conftest import browser_page_open, page_watch, require
from tests.frontend import viewer_data
from tests.printing.conftest import printer_for
from tests.printing.print_scp import print_scp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT_MS = 30_000


@pytest.fixture
def browser_page(chromium_browser):
    page = page_watch(browser_page_open(chromium_browser))
    page.set_default_timeout(WAIT_MS)
    return page


@pytest.fixture
def built_viewer():
    from frontend.viewer import viewer_bundle

    require(viewer_bundle() is not None, "the viewer is not built (make viewer)")


def _sign_in(page, live_server, user: str) -> None:
    page.goto(live_server.url + "/login/")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill("pw-" + user)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login/" not in url)


def test_a_technician_prints_the_image_shown(
    live_server, tech, browser_page, built_viewer, settings
):
    settings.CELERY_BROKER_URL = None  # the print runs on this process's task thread
    study = viewer_data.dr_study(rows=300, columns=400)
    page = browser_page
    with print_scp() as (port, record, _):
        printer_for(port, name="Film camera", default_film_size="10INX12IN")
        _sign_in(page, live_server, "tech")
        page.goto(f"{live_server.url}/studies/{study.pk}/viewer")
        page.wait_for_selector("#viewer[data-viewer-ready='true']")
        page.wait_for_selector("#viewer[data-state='ready']")

        page.locator("[data-print-open]").click()
        dialog = page.locator("[data-print-dialog]")
        dialog.get_by_label("Printer").wait_for()
        assert dialog.get_by_label("Film size").input_value() == "10INX12IN"
        dialog.get_by_label("Orientation").select_option("LANDSCAPE")
        dialog.locator("[data-print-submit]").click()
        page.wait_for_selector("[data-print-status][data-state='done']")
        assert "Printed (1 film" in dialog.locator("[data-print-status]").inner_text()
        page.screenshot(path="/tmp/printing-viewer-dialog.png")
        assert not page.errors, page.errors

    job = PrintJob.objects.get()
    assert (job.state, job.created_by, job.orientation) == (PrintState.DONE, tech, "LANDSCAPE")
    (film_box,) = record.film_boxes.values()
    assert (film_box.FilmSizeID, film_box.ImageDisplayFormat) == ("10INX12IN", "STANDARD\\1,1")
    (box,) = record.printed_boxes()
    assert box.pixels.shape == (300, 400)  # the frame shown, at its own size (fits the box)

    # The prints page lists it as printed.
    page.goto(f"{live_server.url}/prints/")
    row = page.locator(f"#print-{job.pk}")
    assert "Printed" in row.inner_text()
    assert "Film camera" in row.inner_text()
