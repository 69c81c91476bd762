"""Sharing in real headless Chromium: a vet shares with a passcode, a specialist in a fresh
browser opens the link, gets the passcode wrong then right, views, downloads, replies; the vet
sees the reply and the access log, and revoking locks the link."""

import io
import zipfile
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.fileset import FileSet

from sharing.models import AccessAction, Share
from tests.conftest import browser_page_open
from tests.sharing.conftest import ingest_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT_MS = 20_000
SCREENSHOT = "/tmp/sharing-specialist.png"
VIEWER_SCREENSHOT = "/tmp/sharing-viewer.png"


def test_a_vet_shares_and_a_specialist_views_downloads_and_replies(
    live_server, rex, vet, chromium_browser, tmp_path
):
    from playwright.sync_api import expect

    study = ingest_study()
    # The vet shares the study with a passcode.
    clinic = browser_page_open(chromium_browser)
    clinic.goto(live_server.url + "/login/")
    clinic.get_by_label("User name").fill("vet")
    clinic.get_by_label("Password").fill("pw-vet")
    clinic.get_by_role("button", name="Sign in").click()
    clinic.goto(f"{live_server.url}/studies/{study.pk}/")
    panel = clinic.locator("[data-share-panel]")
    expect(panel.get_by_role("heading", name="Share with a specialist")).to_be_visible()
    clinic.locator("#share-email").fill("heart@example.org")
    clinic.locator("#share-question").fill("Cardiomegaly? Please give the VHS.")
    clinic.locator("#share-passcode").fill("blue-whale-7")
    clinic.get_by_role("button", name="Create share and email the link").click()
    link = clinic.locator("[data-share-url]").inner_text().strip()
    assert link.startswith(live_server.url + "/share/")
    share = Share.objects.get()

    # A specialist, in a browser that has never seen the portal.
    specialist = browser_page_open(chromium_browser)
    specialist.goto(link)
    expect(specialist.get_by_role("heading", name="Enter the passcode")).to_be_visible()
    assert "Rex" not in specialist.content()
    specialist.get_by_label("Passcode").fill("red-whale-1")
    specialist.get_by_role("button", name="Open").click()
    expect(specialist.locator("[data-passcode-error]")).to_contain_text("not right")
    assert "Rex" not in specialist.content()
    specialist.get_by_label("Passcode").fill("blue-whale-7")
    specialist.get_by_role("button", name="Open").click()
    expect(specialist.get_by_role("heading", name="Rex")).to_be_visible()
    assert "/share/v/" in specialist.url and link.rsplit("/", 2)[-2] not in specialist.url
    expect(specialist.locator("[data-share-question]")).to_contain_text("Cardiomegaly?")
    # Thumbnails come through the share's own DICOMweb door, under its strict CSP.
    thumbnails = specialist.locator("[data-share-series] img")
    expect(thumbnails).to_have_count(2)
    specialist.wait_for_function(
        "() => [...document.querySelectorAll('[data-share-series] img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    specialist.screenshot(path=SCREENSHOT, full_page=True)

    # The study in the portal's viewer, through the share's DICOMweb door.
    specialist.locator("[data-share-viewer]").click()
    specialist.wait_for_selector("#viewer[data-state='ready']", timeout=WAIT_MS)
    specialist.screenshot(path=VIEWER_SCREENSHOT)
    specialist.go_back()

    with specialist.expect_download() as download_info:
        specialist.locator("[data-share-download]").click()
    saved = tmp_path / "share.zip"
    download_info.value.save_as(saved)
    archive = zipfile.ZipFile(io.BytesIO(saved.read_bytes()))
    folder = tmp_path / "unzipped"
    archive.extractall(folder)
    fileset = FileSet(dcmread(folder / "DICOMDIR"))
    assert len(fileset) == 4
    for instance in fileset:
        ds = dcmread(folder / Path(instance.FileID))
        assert ds.StudyInstanceUID == study.study_instance_uid and ds.PixelData

    specialist.get_by_label("Your name").fill("Dr Heart")
    specialist.get_by_label("Findings").fill("VHS 11.8 v; left atrial enlargement.")
    specialist.get_by_label("Impression").fill("Cardiomegaly, likely MMVD stage B2.")
    specialist.get_by_role("button", name="Send reply").click()
    expect(specialist.locator("[data-reply-sent]")).to_be_visible()

    # The vet sees the reply and the access log.
    clinic.goto(f"{live_server.url}/studies/{study.pk}/")
    reply = clinic.locator("[data-consult-reply]")
    expect(reply).to_contain_text("VHS 11.8 v")
    expect(reply).to_contain_text("Dr Heart")
    clinic.locator("[data-share-log] summary").click()
    log = clinic.locator("[data-share-log]")
    for label in ("Wrong passcode", "Opened", "Viewed series", "Downloaded", "Replied"):
        expect(log).to_contain_text(label)
    actions = set(share.accesses.values_list("action", flat=True))
    assert {AccessAction.OPENED, AccessAction.DOWNLOADED, AccessAction.REPLIED} <= actions

    # Revoking locks the link on the specialist's next request.
    clinic.locator("[data-share-revoke]").click()
    expect(clinic.locator("[data-share-state]")).to_have_text("Revoked")
    specialist.reload()
    expect(specialist.locator("[data-share-unavailable]")).to_be_visible()
    assert "Rex" not in specialist.content()
    specialist.goto(link)
    expect(specialist.locator("[data-share-unavailable]")).to_contain_text("withdrawn")
