"""The signed report goes into its study as a DICOM Encapsulated PDF, with each addendum a new
instance of the same "Report" series, so sending the study sends the report too."""

import io

import pydicom
import pytest
from pydicom.uid import EncapsulatedPDFStorage
from pypdf import PdfReader

from imaging import storage
from imaging.models import Instance, Series, StudyStatus
from reports import reports as service
from reports.dicom_pdf import report_unstored
from reports.models import ReportEventKind
from tests.reports.conftest import pages_as

pytestmark = pytest.mark.django_db


def _read(instance: Instance) -> pydicom.Dataset:
    with storage.instance_open(instance.storage_key) as handle:
        return pydicom.dcmread(handle)


def test_signing_stores_an_encapsulated_pdf_in_the_study(study, image, vet):
    images_before = study.instance_count
    report = service.report_start(study=study, user=vet)
    service.report_sign(report=report, user=vet, impression="Normal thorax.")
    report.refresh_from_db()
    study.refresh_from_db()

    stored = Instance.objects.get(sop_instance_uid=report.dicom_sop_instance_uid)
    assert stored.series.study == study
    assert stored.sop_class_uid == EncapsulatedPDFStorage
    assert stored.series.series_instance_uid == report.dicom_series_uid
    assert stored.series.modality == "DOC" and stored.series.description == "Report"
    assert study.instance_count == images_before + 1
    assert "DOC" in study.modalities.split("\\")
    assert study.status == StudyStatus.COMPLETE  # a report is not a modality still sending

    ds = _read(stored)
    original = _read(image)
    assert ds.SOPClassUID == EncapsulatedPDFStorage
    assert ds.Modality == "DOC"
    assert ds.MIMETypeOfEncapsulatedDocument == "application/pdf"
    for keyword in (
        "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientSpeciesDescription",
        "PatientBreedDescription", "ResponsiblePerson", "StudyInstanceUID", "StudyDate",
        "AccessionNumber", "ReferringPhysicianName",
    ):  # fmt: skip
        assert ds[keyword].value == original[keyword].value, keyword
    document = bytes(ds.EncapsulatedDocument)[: ds.EncapsulatedDocumentLength]
    assert document.startswith(b"%PDF") and document.rstrip().endswith(b"%%EOF")
    assert b"DRAFT" not in document
    assert report.events.filter(kind=ReportEventKind.STORED).exists()


def test_the_stored_document_is_the_report_pdf(study, vet):
    report = service.report_start(study=study, user=vet)
    service.report_sign(report=report, user=vet, impression="Mild cardiomegaly.")
    report.refresh_from_db()
    ds = _read(Instance.objects.get(sop_instance_uid=report.dicom_sop_instance_uid))
    document = bytes(ds.EncapsulatedDocument)[: ds.EncapsulatedDocumentLength]
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(document)).pages)
    assert "Rex" in text and "Mild cardiomegaly." in text
    assert "Electronically signed by Dr vet" in text


def test_each_addendum_is_a_new_instance_in_the_report_series(study, vet):
    report = service.report_start(study=study, user=vet)
    service.report_sign(report=report, user=vet, impression="Normal.")
    addendum = service.addendum_add(report=report, text="Lateral re-read: normal.", user=vet)
    addendum.refresh_from_db()
    report.refresh_from_db()
    series = Series.objects.get(series_instance_uid=report.dicom_series_uid)
    instances = list(series.instances.order_by("instance_number"))
    assert [i.instance_number for i in instances] == [1, 2]
    assert instances[1].sop_instance_uid == addendum.dicom_sop_instance_uid
    ds = _read(instances[1])
    assert ds.DocumentTitle == "Imaging report, addendum 1"
    assert b"Lateral re-read" not in bytes(_read(instances[0]).EncapsulatedDocument)
    assert ds.SeriesInstanceUID == report.dicom_series_uid


def test_a_report_pdf_never_becomes_the_source_of_patient_data(study, vet):
    """The second instance copies the images' attributes, not the first report's."""
    report = service.report_start(study=study, user=vet)
    service.report_sign(report=report, user=vet, impression="Normal.")
    service.addendum_add(report=report, text="More.", user=vet)
    report.refresh_from_db()
    for instance in Series.objects.get(series_instance_uid=report.dicom_series_uid).instances.all():
        assert _read(instance).PatientName == "Smith^Rex"


def test_a_failed_store_keeps_the_signature_and_can_be_done_again(study, vet, tech, settings):
    working = settings.STORAGES
    broken = working["default"]["OPTIONS"]["location"] + "-not-a-folder"
    open(broken, "w").close()  # a file where storage expects a folder: nothing can be written
    settings.STORAGES = {
        **working,
        "default": {**working["default"], "OPTIONS": {"location": broken}},
    }
    report = service.report_start(study=study, user=vet)
    service.report_sign(report=report, user=vet, impression="Normal.")
    report.refresh_from_db()
    assert report.status == "final" and report.dicom_sop_instance_uid == ""
    failure = report.events.get(kind=ReportEventKind.STORE_FAILED)
    assert "could not be stored in the study" in failure.message
    assert report_unstored(report)
    page = pages_as(tech).get(f"/studies/{study.pk}/report/").content.decode()
    assert "Store in the study again" in page

    settings.STORAGES = working
    pages_as(tech).post(f"/studies/{study.pk}/report/store")
    report.refresh_from_db()
    assert Instance.objects.filter(sop_instance_uid=report.dicom_sop_instance_uid).exists()
    assert not report_unstored(report)
