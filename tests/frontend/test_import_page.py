"""The Import page: permissions, and in real headless Chromium choosing files, a ZIP, a CD
folder and dropping files, with a progress bar per file and a summary that survives a reload."""

import pytest
from django.urls import reverse

from imaging.models import ImportBatch, ImportOutcome, Instance, Study
from imaging.synthetic import to_bytes
from tests.imaging.import_support import cd_write, files_write, series_datasets, zip_write

WAIT_MS = 30_000
SCREENSHOT = "/tmp/import-page.png"


# --- Pages and permissions (Django's test client) -----------------------------------------


@pytest.mark.django_db
def test_the_front_desk_may_not_import(client, front_desk):
    client.force_login(front_desk)
    assert client.get(reverse("import")).status_code == 403
    assert client.post(reverse("import-start")).status_code == 403


@pytest.mark.django_db
def test_a_technician_uploads_a_file_into_their_own_batch_only(client, tech, vet, tmp_path):
    [ds] = series_datasets(1)
    client.force_login(tech)
    assert client.get(reverse("import")).status_code == 200
    urls = client.post(reverse("import-start")).json()
    path = tmp_path / "one.dcm"
    path.write_bytes(to_bytes(ds))

    with open(path, "rb") as handle:
        answer = client.post(urls["files"], {"file": handle, "name": "exports/one.dcm"}).json()
    client.force_login(vet)
    with open(path, "rb") as handle:
        foreign = client.post(urls["files"], {"file": handle, "name": "again.dcm"})
    client.force_login(tech)
    finished = client.post(urls["finish"]).json()

    assert answer["items"] == [
        {"name": "exports/one.dcm", "outcome": "imported", "label": "Imported", "reason": ""}
    ]
    assert foreign.status_code == 403
    assert finished["imported"] == 1
    page = client.get(finished["summary"])
    assert b"1</strong> imported" in page.content
    # A finished batch takes no more files.
    with open(path, "rb") as handle:
        assert client.post(urls["files"], {"file": handle}).status_code == 403


# --- Real headless Chromium -----------------------------------------------------------------


def _sign_in(page, live_server) -> None:
    page.goto(live_server.url + "/login/")
    page.get_by_label("User name").fill("tech")
    page.get_by_label("Password").fill("pw-tech")
    page.get_by_role("button", name="Sign in").click()
    page.goto(live_server.url + "/imports/")


def _row(page, name: str):
    return page.locator(f'[data-file-row][data-name="{name}"]')


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_files_and_a_zip_upload_with_progress_and_a_summary(
    live_server, tech, browser_page, tmp_path
):
    from playwright.sync_api import expect

    from tests.conftest import page_watch

    page = page_watch(browser_page)
    loose = series_datasets(2, patient_id="P-UPLOAD", patient_name="Green^Luna")
    zipped = series_datasets(2, patient_id="P-ZIPPED")
    paths = files_write(tmp_path / "loose", loose)
    photo = tmp_path / "luna.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 2000)
    archive = zip_write(
        tmp_path / "referral.zip",
        {"study/IMG1": to_bytes(zipped[0]), "study/sub/IMG2": to_bytes(zipped[1]),
         "../escape.dcm": to_bytes(zipped[0])},
    )  # fmt: skip
    _sign_in(page, live_server)

    page.locator("[data-choose-files]").set_input_files([*paths, archive, photo])

    summary = page.locator("[data-summary]")
    expect(summary).to_be_visible(timeout=WAIT_MS)
    for path in paths:
        row = _row(page, path.name)
        expect(row).to_have_attribute("data-outcome", "imported")
        assert row.locator("progress").evaluate("bar => bar.value") == 1
    expect(_row(page, "luna.jpg")).to_contain_text("not a DICOM file")
    expect(_row(page, "referral.zip")).to_contain_text("2 imported, 1 refused")
    expect(_row(page, "referral.zip")).to_contain_text("outside the archive")
    expect(summary.locator(".import-count-imported")).to_have_text("4 imported (new)")
    expect(summary.locator(".import-count-refused")).to_contain_text("2 refused")
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert page.errors == []
    assert Instance.objects.count() == 4
    assert Study.objects.get(patient__patient_id="P-ZIPPED").instance_count == 2

    # The summary is kept: it opens again after a reload.
    summary.get_by_role("link", name="Open the summary").click()
    expect(page.locator(".import-count-imported")).to_contain_text("4")
    expect(page.locator("[data-refused]")).to_contain_text("photos, videos and PDFs")
    page.reload()
    expect(page.locator("[data-refused]")).to_contain_text("referral.zip/../escape.dcm")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_cd_folder_is_read_through_its_dicomdir(live_server, tech, browser_page, tmp_path):
    from playwright.sync_api import expect

    from tests.conftest import page_watch

    page = page_watch(browser_page)
    cd = cd_write(tmp_path / "REFERRAL_CD", series_datasets(3, patient_id="P-CD"))
    _sign_in(page, live_server)

    page.locator("[data-choose-folder]").set_input_files(cd)

    summary = page.locator("[data-summary]")
    expect(summary).to_be_visible(timeout=WAIT_MS)
    expect(summary.locator(".import-count-imported")).to_have_text("3 imported (new)")
    expect(summary.locator(".import-count-ignored")).to_contain_text("4 ignored")
    # Only the images went up: the viewer program was never uploaded.
    expect(page.locator("[data-file-row]")).to_have_count(3)
    expect(page.locator('[data-file-row][data-name$="VIEWER.EXE"]')).to_have_count(0)
    assert page.errors == []
    batch = ImportBatch.objects.get()
    assert batch.items.filter(outcome=ImportOutcome.IGNORED, name__endswith="VIEWER.EXE").exists()
    assert Study.objects.get(patient__patient_id="P-CD").instance_count == 3


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_dropped_files_are_imported_and_a_second_drop_is_already_held(
    live_server, tech, browser_page
):
    from playwright.sync_api import expect

    from tests.conftest import page_watch

    page = page_watch(browser_page)
    [ds] = series_datasets(1)
    data = list(to_bytes(ds))
    _sign_in(page, live_server)

    def drop() -> None:
        page.evaluate(
            """bytes => {
                const transfer = new DataTransfer();
                transfer.items.add(new File([new Uint8Array(bytes)], "dropped.dcm"));
                const zone = document.querySelector("[data-drop-zone]");
                zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: transfer, bubbles: true}));
                zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
            }""",
            data,
        )

    drop()
    summary = page.locator("[data-summary]")
    expect(summary.locator(".import-count-imported")).to_have_text(
        "1 imported (new)", timeout=WAIT_MS
    )
    page.get_by_role("button", name="Import more").click()
    drop()
    expect(summary.locator(".import-count-duplicate")).to_contain_text("1 skipped", timeout=WAIT_MS)
    expect(_row(page, "dropped.dcm")).to_have_attribute("data-outcome", "duplicate")
    assert page.errors == []
    assert Instance.objects.count() == 1
