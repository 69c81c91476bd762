"""The signed report stored into its study as a DICOM Encapsulated PDF (PS3.3 A.45.1).

It carries the same patient and study attributes as the study's images and goes into its own
series ("Report", modality DOC) through the same ingest path as anything a modality sends,
so sending the study sends the report too. Each addendum adds a new instance to that series
holding the whole report as it then stands.
"""

import logging

from django.conf import settings
from django.utils import timezone
from pydicom import Dataset, FileMetaDataset, dcmread
from pydicom.uid import EncapsulatedPDFStorage, ExplicitVRLittleEndian, generate_uid

from imaging import storage
from imaging.ingest import instance_receive_dataset, studies_complete
from imaging.models import Instance, Study, StudyStatus
from reports.models import Addendum, Report, ReportEvent, ReportEventKind
from reports.pdf import report_pdf

logger = logging.getLogger(__name__)

REPORT_SERIES_NUMBER = 9000  # after any series a console numbers, so it sorts last
REPORT_SERIES_DESCRIPTION = "Report"

# Patient and study attributes copied from the study's own images (PS3.3 C.7.1.1, C.7.2.1),
# so a PACS files the report with the images it describes.
_COPIED = (
    "SpecificCharacterSet",
    "PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
    "PatientSpeciesDescription", "PatientSpeciesCodeSequence",
    "PatientBreedDescription", "PatientBreedCodeSequence", "BreedRegistrationSequence",
    "ResponsiblePerson", "ResponsiblePersonRole", "ResponsibleOrganization",
    "PatientSexNeutered", "OtherPatientIDsSequence",
    "StudyInstanceUID", "StudyDate", "StudyTime", "AccessionNumber",
    "IssuerOfAccessionNumberSequence", "ReferringPhysicianName", "StudyID", "StudyDescription",
)  # fmt: skip


def _image_header(study: Study) -> Dataset | None:
    """The header of one of the study's own images (not an earlier report)."""
    instance = (
        Instance.objects.filter(series__study=study)
        .exclude(sop_class_uid=EncapsulatedPDFStorage)
        .order_by("received_at", "pk")
        .first()
    )
    if instance is None:
        return None
    try:
        with storage.instance_open(instance.storage_key) as handle:
            return dcmread(handle, stop_before_pixels=True)
    except Exception:
        logger.warning("Cannot read %s for the report's patient data", instance.sop_instance_uid)
        return None


def _from_portal(study: Study) -> Dataset:
    """The patient and study attributes from the portal's own records (no readable image)."""
    ds = Dataset()
    patient = study.patient
    owner = patient.owner.last_name if patient.owner else patient.responsible_person
    ds.PatientName = f"{owner}^{patient.name}" if owner else patient.name
    ds.PatientID = patient.patient_id
    if patient.issuer:
        ds.IssuerOfPatientID = patient.issuer
    ds.PatientBirthDate = patient.birth_date.strftime("%Y%m%d") if patient.birth_date else ""
    ds.PatientSex = patient.sex or ""
    ds.PatientSpeciesDescription = patient.species_label
    ds.PatientBreedDescription = patient.breed
    ds.ResponsiblePerson = patient.owner_name
    ds.StudyInstanceUID = study.study_instance_uid
    ds.StudyDate = study.study_date.strftime("%Y%m%d") if study.study_date else ""
    ds.StudyTime = study.study_time.strftime("%H%M%S") if study.study_time else ""
    ds.AccessionNumber = study.accession_number
    ds.ReferringPhysicianName = study.referring_physician
    ds.StudyID = study.study_id
    ds.StudyDescription = study.description
    return ds


def encapsulated_pdf_dataset(
    *, report: Report, pdf: bytes, instance_number: int, title: str
) -> Dataset:
    """An Encapsulated PDF instance of `pdf` in the report's series of its study."""
    study = report.study
    source = _image_header(study) or _from_portal(study)
    ds = Dataset()
    for keyword in _COPIED:
        if keyword in source:
            ds[keyword] = source[keyword]
    ds.StudyInstanceUID = study.study_instance_uid  # the portal's study, even if re-filed
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate",
                    "StudyTime", "AccessionNumber", "ReferringPhysicianName", "StudyID"):  # fmt: skip
        if keyword not in ds:
            setattr(ds, keyword, "")  # type 2: present, may be empty
    now = timezone.localtime()
    ds.SOPClassUID = EncapsulatedPDFStorage
    ds.SOPInstanceUID = generate_uid()
    # General Series / Encapsulated Document Series (PS3.3 C.24.1)
    ds.Modality = "DOC"
    ds.SeriesInstanceUID = report.dicom_series_uid
    ds.SeriesNumber = REPORT_SERIES_NUMBER
    ds.SeriesDescription = REPORT_SERIES_DESCRIPTION
    # General Equipment and SC Equipment (PS3.3 C.7.5.1, C.8.6.1)
    ds.Manufacturer = "Veterinary Imaging Portal"
    ds.InstitutionName = settings.PORTAL_CLINIC_NAME[:64]
    ds.ConversionType = "WSD"  # workstation
    # Encapsulated Document (PS3.3 C.24.2)
    ds.InstanceNumber = instance_number
    ds.ContentDate = now.strftime("%Y%m%d")
    ds.ContentTime = now.strftime("%H%M%S")
    ds.AcquisitionDateTime = now.strftime("%Y%m%d%H%M%S")
    ds.BurnedInAnnotation = "YES"  # the PDF names the patient
    ds.DocumentTitle = title[:64]
    concept = Dataset()
    concept.CodeValue = "18748-4"
    concept.CodingSchemeDesignator = "LN"
    concept.CodeMeaning = "Diagnostic imaging report"
    ds.ConceptNameCodeSequence = [concept]
    ds.VerificationFlag = "VERIFIED"
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    # OB values have even length: the pad byte is not part of the document, so say its length.
    ds.EncapsulatedDocumentLength = len(pdf)
    ds.EncapsulatedDocument = pdf + (b"\0" if len(pdf) % 2 else b"")
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def report_store_in_study(*, report: Report, user, addendum: Addendum | None = None) -> str:
    """Store the report as it now stands into its study; returns the SOP Instance UID, or ""
    when storing failed (the report's history then says why; the signature stands)."""
    report = Report.objects.select_related("study__patient__owner").get(pk=report.pk)
    if not report.dicom_series_uid:
        report.dicom_series_uid = generate_uid()
        Report.objects.filter(pk=report.pk).update(dicom_series_uid=report.dicom_series_uid)
    number = 1 + (addendum.number if addendum else 0)
    title = "Imaging report" + (f", addendum {addendum.number}" if addendum else "")
    study = report.study
    was_complete = study.status == StudyStatus.COMPLETE
    try:
        pdf = report_pdf(report)
        dataset = encapsulated_pdf_dataset(
            report=report, pdf=pdf, instance_number=number, title=title
        )
        received = instance_receive_dataset(dataset=dataset, calling_ae=settings.DICOM_AE_TITLE)
    except Exception as exc:  # the signature stands whatever happens here; the history says why
        logger.exception("Storing the report of study %s failed", study.pk)
        ReportEvent.objects.create(
            report=report,
            kind=ReportEventKind.STORE_FAILED,
            message=f"{title} could not be stored in the study: {exc}",
            user=user,
        )
        return ""
    sop_uid = received.instance.sop_instance_uid
    if addendum:
        Addendum.objects.filter(pk=addendum.pk).update(dicom_sop_instance_uid=sop_uid)
    else:
        Report.objects.filter(pk=report.pk).update(dicom_sop_instance_uid=sop_uid)
    if was_complete:
        # A report is not a modality still sending: the study stays complete.
        studies_complete(study_ids=[study.pk])
    ReportEvent.objects.create(
        report=report,
        kind=ReportEventKind.STORED,
        message=f"{title} stored in the study as DICOM (series “Report”, instance {number}).",
        user=user,
    )
    return sop_uid


def report_unstored(report: Report) -> bool:
    """Whether the report as it now stands is missing from its study (storing it failed)."""
    if not report.locked:
        return False
    last = report.addenda.order_by("-number").first()
    return not (last.dicom_sop_instance_uid if last else report.dicom_sop_instance_uid)


def report_store_missing(*, report: Report, user) -> str:
    """Store again what failed to go into the study: the report as it now stands, as the
    instance it should have been (the signature's, or the latest addendum's)."""
    if not report_unstored(report):
        return ""
    last = report.addenda.order_by("-number").first()
    return report_store_in_study(report=report, user=user, addendum=last)
