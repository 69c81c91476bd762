"""In real headless Chromium: a specialist opens a share link and its viewer plays the study's
video and frames its PDF under the share's strict Content-Security-Policy."""

import io
import time

import pytest

from imaging.convert.attach import media_attach
from imaging.viewer_config import viewer_bundle
from sharing import shares
from tests.conftest import browser_page_open, page_watch, require
from tests.media_samples import document_pdf, video_mp4
from tests.sharing.conftest import ingest_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT_MS = 60_000
SCREENSHOT = "/tmp/share-media-{}.png"


def test_a_specialist_plays_the_shared_video_and_opens_the_pdf(
    live_server, rex, vet, chromium_browser
):
    require(viewer_bundle() is not None, "the viewer is not built (make viewer)")
    study = ingest_study()
    for name, data in (
        ("echo.mp4", video_mp4(width=320, height=240, frames=90, rate=30)),
        ("referral.pdf", document_pdf()),
    ):
        media_attach(
            source=io.BytesIO(data), filename=name, patient=study.patient, study=study, batch="b"
        )
    created = shares.share_create(study=study, user=vet, email="heart@example.org")

    page = page_watch(browser_page_open(chromium_browser))
    page.set_default_timeout(WAIT_MS)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(live_server.url + created.path)
    page.wait_for_url(f"**/share/v/{created.share.pk}/")
    page.goto(f"{live_server.url}/share/v/{created.share.pk}/viewer")
    page.wait_for_selector("#viewer[data-state='ready']")

    page.locator(".series-tile", has_text="Video").click()
    page.wait_for_selector(".viewport-media[data-media-state='playing']")
    page.wait_for_function(
        "() => { const v = document.querySelector('.viewport-media video');"
        " return v && v.readyState >= 2 && v.currentTime > 0.3 && !v.error; }"
    )
    src = page.evaluate("document.querySelector('.viewport-media video').src")
    assert f"/share/v/{created.share.pk}/media/" in src
    page.screenshot(path=SCREENSHOT.format("video"))

    pdf_url = f"/share/v/{created.share.pk}/media/"
    with page.expect_response(
        lambda r: pdf_url in r.url and r.request.resource_type == "document"
    ) as pdf:
        page.locator(".series-tile", has_text="Documents (PDF)").click()
    assert pdf.value.status == 200 and pdf.value.headers["content-type"] == "application/pdf"
    page.wait_for_selector(".viewport-media iframe")
    assert page.locator(".viewport-media video").count() == 0
    # The browser's own PDF viewer opened inside the frame (its CSP and framing headers allow it).
    deadline = time.monotonic() + WAIT_MS / 1000
    while not any(frame.url.startswith("chrome-extension://") for frame in page.frames):
        assert time.monotonic() < deadline, [frame.url for frame in page.frames]
        page.wait_for_timeout(100)
    page.screenshot(path=SCREENSHOT.format("pdf"))

    refused = [line for line in console if "Content Security Policy" in line or "Refused" in line]
    assert refused == [], refused
    assert page.errors == []
