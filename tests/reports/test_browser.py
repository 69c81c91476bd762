"""A veterinarian writes, signs and downloads a report in real headless Chromium."""

import io
import re

import pytest
from pypdf import PdfReader

from clinic.queue import wait_for_local_tasks
from imaging.models import Annotation, CalibrationSource, Instance
from reports.models import Report, ReportStatus
from tests.reports.conftest import ingest_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT_MS = 20_000
DRAFT_SCREENSHOT = "/tmp/reports-editor-draft.png"
EDITOR_SCREENSHOT = "/tmp/reports-editor.png"


def test_a_vet_writes_from_a_template_signs_and_downloads_the_pdf(
    live_server, rex, vet, browser_page, settings
):
    from playwright.sync_api import expect

    settings.CELERY_BROKER_URL = None  # thumbnails in-process, as in the embedded mode
    vet.first_name, vet.last_name = "Anna", "Vet"
    vet.save()
    study = ingest_study()
    # The viewer's "Key image" button on a lateral with a length measured on it.
    lateral = Instance.objects.filter(series__study=study, series__series_number=1).get()
    Annotation.objects.create(
        instance=lateral, study=study, tool="length", geometry={"points": [[10, 20], [110, 20]]},
        values=[{"name": "length", "label": "Length", "value": 50.0, "unit": "mm"}],
        calibration_source=CalibrationSource.PIXEL_SPACING, author=vet,
    )  # fmt: skip
    page = browser_page
    page.goto(live_server.url + "/login/")
    page.get_by_label("User name").fill("vet")
    page.get_by_label("Password").fill("pw-vet")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Arrivals")).to_be_visible()

    page.goto(f"{live_server.url}/studies/{study.pk}/")
    page.get_by_role("button", name="Write report").click()
    expect(page.get_by_role("heading", name="Report: Rex")).to_be_visible()
    # The viewer's button posts the frame shown; the draft's editor shows it as a thumbnail.
    added = page.evaluate(
        """async ({url, uid}) => {
            const csrf = document.querySelector('[name=csrfmiddlewaretoken]').value;
            const response = await fetch(url, {
                method: 'POST', credentials: 'same-origin',
                headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrf},
                body: JSON.stringify({sop_instance_uid: uid, frame: 1}),
            });
            return response.status;
        }""",
        {"url": f"/api/studies/{study.pk}/key-images/", "uid": lateral.sop_instance_uid},
    )
    assert added == 201
    page.reload()
    thumbnail = page.locator(".key-images img")
    expect(thumbnail).to_have_count(1)
    page.wait_for_function(
        "() => { const i = document.querySelector('.key-images img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    expect(page.locator("#measurements")).to_contain_text("50 mm")

    # The template matching the thorax study is suggested; the vet picks it explicitly.
    expect(page.get_by_label("Template")).to_have_value(str(Report.objects.get().template_id))
    page.get_by_label("Findings").fill("")
    page.get_by_role("button", name="Use template").click()
    findings = page.get_by_label("Findings")
    expect(findings).to_have_value(re.compile(r"^Cardiac silhouette: normal size and shape"))
    findings.fill(findings.input_value().replace("normal size and shape (VHS ___ v)", "enlarged"))
    page.get_by_label("Impression").fill("Mild cardiomegaly; no congestive failure.")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    page.screenshot(path=DRAFT_SCREENSHOT, full_page=True)

    page.get_by_role("button", name="Sign and finalize").click()
    expect(page.get_by_text("Electronically signed by Dr Anna Vet")).to_be_visible()
    expect(page.get_by_label("Findings")).to_have_count(0)  # locked
    report = Report.objects.get()
    assert report.status == ReportStatus.FINAL and report.signed_by == vet
    assert report.impression == "Mild cardiomegaly; no congestive failure."
    page.screenshot(path=EDITOR_SCREENSHOT, full_page=True)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    download = download_info.value
    assert download.suggested_filename.startswith(
        "report-Rex"
    ) and download.suggested_filename.endswith(".pdf")
    with open(download.path(), "rb") as handle:
        pdf = handle.read()
    assert pdf.startswith(b"%PDF")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Rex" in text and "Cardiac silhouette: enlarged" in text
    assert "Mild cardiomegaly; no congestive failure." in text
    assert "Electronically signed by Dr Anna Vet" in text
    assert "DRAFT" not in text
    assert "Key images" in text and "Length" in text and "50 mm" in text

    # Back on the study page the report shows as signed.
    page.goto(f"{live_server.url}/studies/{study.pk}/")
    expect(page.locator("#report").get_by_text("Signed", exact=True)).to_be_visible()
    # Thumbnails render on this process's task thread; let it finish before the database goes.
    assert wait_for_local_tasks(timeout=60)
