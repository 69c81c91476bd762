"""The report PDF: a real PDF with the clinic, patient, text, measurements, key images,
signature, addenda and page numbers; DRAFT across unsigned ones."""

import io

import pytest
from pypdf import PdfReader

from imaging.annotations import annotation_create
from reports import reports as service
from reports.facts import age_at
from reports.measurement_table import measurement_rows
from reports.pdf import report_pdf

pytestmark = pytest.mark.django_db


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture
def letterhead(settings):
    settings.PORTAL_CLINIC_NAME = "Riverside Animal Hospital"
    settings.PORTAL_CLINIC_ADDRESS = "12 Mill Lane, Oxford OX1 2AB"
    settings.PORTAL_CLINIC_PHONE = "+44 1865 000000"


def test_a_draft_pdf_names_clinic_patient_and_says_draft(study, tech, letterhead):
    report = service.report_start(study=study, user=tech)
    report = service.report_save(
        report=report, findings="Mild bronchial pattern.", impression="Bronchitis.", user=tech
    )
    pdf = report_pdf(report)
    assert pdf.startswith(b"%PDF")
    text = _text(pdf)
    for expected in (
        "Riverside Animal Hospital", "12 Mill Lane", "+44 1865 000000",
        "Rex", "P-1001", "John Smith", "Canine", "Labrador Retriever", "Male, neutered",
        "7 years 7 months",  # born 2 Apr 2019, studied 23 Nov 2026
        "31.5 kg", "23 Nov 2026", "Thorax 3 view", "Anna Vet",
        "Mild bronchial pattern.", "Bronchitis.", "DRAFT", "Page 1 of 1",
    ):  # fmt: skip
        assert expected in text, expected
    assert "Electronically signed" not in text


def test_a_signed_pdf_has_the_signature_addenda_measurements_and_key_images(
    study, image, vet, length_annotation
):
    vet.first_name, vet.last_name = "Anna", "Vet"
    vet.save()
    service.key_image_add(study=study, sop_instance_uid=image.sop_instance_uid, frame=1, user=vet)
    report = service.report_start(study=study, user=vet)
    service.report_sign(report=report, user=vet, findings="Heart normal.", impression="Normal.")
    service.addendum_add(report=report, text="Reviewed with the owner.", user=vet)
    report.refresh_from_db()
    pdf = report_pdf(report)
    text = _text(pdf)
    assert "Electronically signed by Dr Anna Vet on" in text
    assert "DRAFT" not in text
    assert "Addendum 1 — Dr Anna Vet" in text and "Reviewed with the owner." in text
    assert "Measurements" in text and "50 mm" in text and "Pixel Spacing" in text
    assert "Key images" in text and "Series 1 Thorax R LAT" in text
    reader = PdfReader(io.BytesIO(pdf))
    images = [img for page in reader.pages for img in page.images]
    assert len(images) == 1


def test_long_reports_number_their_pages(study, vet):
    report = service.report_start(study=study, user=vet)
    long_text = "\n\n".join(f"Paragraph {n}: " + "finding " * 60 for n in range(40))
    report = service.report_save(report=report, findings=long_text, impression="Long.", user=vet)
    reader = PdfReader(io.BytesIO(report_pdf(report)))
    pages = len(reader.pages)
    assert pages > 2
    assert f"Page {pages} of {pages}" in reader.pages[-1].extract_text()
    assert f"Page 1 of {pages}" in reader.pages[0].extract_text()


@pytest.mark.parametrize(
    ("born", "on", "expected"),
    [
        ("2019-04-02", "2026-11-23", "7 years 7 months"),
        ("2024-11-23", "2026-11-23", "2 years"),
        ("2025-11-24", "2026-11-23", "11 months"),
        ("2026-10-01", "2026-11-23", "7 weeks"),
        ("2026-11-20", "2026-11-23", "3 days"),
    ],
)
def test_age_is_counted_at_the_study_date(born, on, expected):
    from datetime import date

    assert age_at(date.fromisoformat(born), date.fromisoformat(on)) == expected


def test_the_viewer_s_measurements_reach_the_report(study, image, vet):
    """VHS and Norberg drawn through the annotation service: values in the table, marks burned."""
    uid = image.sop_instance_uid
    annotation_create(
        study=study, author=vet, sop_instance_uid=uid, frame=1, tool="vhs",
        geometry={"long_axis": [[30, 40], [90, 80]], "short_axis": [[50, 80], [80, 45]],
                  "vertebrae": [[20, 10], [32, 10], [44, 10], [56, 10], [68, 10]]},
    )  # fmt: skip
    annotation_create(
        study=study, author=vet, sop_instance_uid=uid, frame=1, tool="norberg",
        geometry={"left": {"center": [40, 100], "radius": 10, "rim": [45, 85]},
                  "right": {"center": [90, 100], "radius": 10, "rim": [85, 85]}},
    )  # fmt: skip
    service.key_image_add(study=study, sop_instance_uid=uid, frame=1, user=vet)
    report = service.report_start(study=study, user=vet)
    text = _text(report_pdf(report))
    rows = {row.name: row for row in measurement_rows(study)}
    assert rows["Vertebral heart score: VHS"].unit == "v"
    assert rows["Norberg angle, left"].value_with_unit.endswith("°")
    assert rows["Norberg angle, left"].calibration == "Not calibrated"
    for row in rows.values():
        if row.value[:1].isdigit():
            assert row.value in text, row
    assert "Vertebral heart score: VHS" in text and "Not calibrated" in text
    assert "Key images" in text
