"""In real headless Chromium: a technician drops a photo and an MP4 on the page, then the
viewer draws the photo in colour and plays the video."""

import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clinic.models import Owner, Patient, Species
from imaging.models import Study
from tests.conftest import browser_page_open, page_watch, require
from tests.media_samples import document_pdf, photo_jpeg, video_mp4

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT_MS = 60_000
SCREENSHOT = "/tmp/attach-media-{}.png"


@pytest.fixture
def built_viewer():
    from frontend.viewer import viewer_bundle

    require(viewer_bundle() is not None, "the viewer is not built (make viewer)")


def test_a_photo_and_a_video_are_added_then_shown_and_played(
    live_server, tech, chromium_browser, built_viewer, settings
):
    settings.CELERY_BROKER_URL = None  # thumbnails on this process's task thread
    owner = Owner.objects.create(last_name="Smith")
    rex = Patient.objects.create(patient_id="P-5", name="Rex", owner=owner, species=Species.CANINE)
    folder = Path(tempfile.mkdtemp(prefix="attach-"))
    (folder / "wound.jpg").write_bytes(photo_jpeg(width=320, height=240))
    (folder / "gastroscopy.mp4").write_bytes(video_mp4(width=320, height=240, frames=90, rate=30))
    (folder / "referral.pdf").write_bytes(document_pdf())

    page = page_watch(browser_page_open(chromium_browser))
    page.set_default_timeout(WAIT_MS)
    page.goto(live_server.url + "/login/")
    page.get_by_label("User name").fill("tech")
    page.get_by_label("Password").fill("pw-tech")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login/" not in url)

    page.goto(f"{live_server.url}/patients/{rex.pk}/")
    page.get_by_role("link", name="Add photos, videos or documents").click()
    page.get_by_label("Description of the new study").fill("Gastroscopy")
    page.get_by_label("Endoscopy").check()
    page.set_input_files(
        "[data-file-input]",
        [str(folder / name) for name in ("wound.jpg", "gastroscopy.mp4", "referral.pdf")],
    )
    page.wait_for_function("document.querySelectorAll('[data-results] [data-status]').length === 3")
    statuses = page.eval_on_selector_all(
        "[data-results] [data-status]", "els => els.map(e => e.dataset.status)"
    )
    assert statuses == ["added", "added", "added"], page.inner_text("[data-results]")
    page.screenshot(path=SCREENSHOT.format("page"))
    assert "wound.jpg: added to Photos" in page.inner_text("[data-results]")
    assert "gastroscopy.mp4: added to Endoscopy video" in page.inner_text("[data-results]")

    study = Study.objects.get(patient=rex)
    assert list(study.series.order_by("series_number").values_list("description", flat=True)) == [
        "Photos", "Endoscopy video", "Documents (PDF)",
    ]  # fmt: skip
    page.goto(f"{live_server.url}/studies/{study.pk}/viewer")
    page.wait_for_selector("#viewer[data-state='ready']")
    page.wait_for_function(
        "window.portalViewer && window.portalViewer.timings.firstImageMs != null"
    )
    # The photo is drawn in colour: the blue background and the yellow corner are on screen.
    shot = Image.open(io.BytesIO(page.locator(".viewport-cell").first.screenshot())).convert("RGB")
    r, g, b = (np.asarray(shot, dtype=int)[..., channel] for channel in range(3))
    blue = int(((b > 120) & (r < 60) & (g < 60)).sum())
    yellow = int(((r > 200) & (g > 190) & (b < 110)).sum())
    assert blue > r.size // 10 and yellow > 100, (blue, yellow)

    page.locator(".series-tile", has_text="Endoscopy video").click()
    video = page.locator(".viewport-media video")
    video.wait_for()
    page.wait_for_function(
        "(() => { const v = document.querySelector('.viewport-media video');"
        " return v && v.readyState >= 2 && v.currentTime > 0.3 && !v.error; })()"
    )
    assert page.evaluate("document.querySelector('.viewport-media video').videoWidth") == 320
    page.screenshot(path=SCREENSHOT.format("video"))
    # The PDF opens in the browser's own viewer, in the viewport's place.
    page.locator(".series-tile", has_text="Documents (PDF)").click()
    page.wait_for_selector(".viewport-media iframe[src$='/document.pdf']")
    assert page.locator(".viewport-media video").count() == 0  # the video stopped and went
    assert page.errors == []
