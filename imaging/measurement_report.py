"""The study's measurements as a DICOM Comprehensive SR, stored beside the presentation state.

A presentation state carries the marks and their values as text; the structured report
carries every value as a NUM content item with UCUM units, so a PACS or a reporting system can
read the numbers. Items are grouped per annotation (DCM 125007 "Measurement Group") with the
image and frame they were measured on. No template is claimed: names are coded in the
portal's private scheme (PS3.16 8.2: designators beginning "99" are local).
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from pydicom import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from imaging.models import Annotation, Study

COMPREHENSIVE_SR_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.88.33"
SERIES_DESCRIPTION = "Measurements"
_SCHEME = "99VETPORTAL"

# Portal units to UCUM (PS3.16: coding scheme "UCUM").
_UCUM = {
    "mm": ("mm", "mm"),
    "mm²": ("mm2", "mm2"),
    "px": ("{pixels}", "pixels"),
    "px²": ("{pixels}2", "square pixels"),
    "°": ("deg", "degrees of plane angle"),
    "v": ("{vertebrae}", "vertebrae"),
    "HU": ("[hnsf'U]", "Hounsfield unit"),
}
_NO_UNITS = ("1", "no units")

# Patient and study attributes taken over from the presentation state's header.
_COPY_FROM_HEADER = {
    "PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
    "PatientSpeciesDescription", "PatientSpeciesCodeSequence", "PatientBreedDescription",
    "PatientBreedCodeSequence", "BreedRegistrationSequence", "ResponsiblePerson",
    "ResponsiblePersonRole", "ResponsibleOrganization", "PatientSexNeutered",
    "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber",
    "StudyDescription",
}  # fmt: skip


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value[:16]
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning[:64]
    return item


def _item(relationship: str, value_type: str, concept: Dataset) -> Dataset:
    item = Dataset()
    item.RelationshipType = relationship
    item.ValueType = value_type
    item.ConceptNameCodeSequence = Sequence([concept])
    return item


def _text(name: str, meaning: str, text: str) -> Dataset:
    item = _item("CONTAINS", "TEXT", _code(name, _SCHEME, meaning))
    item.TextValue = text[:1024]
    return item


def _num(value: dict) -> Dataset:
    item = _item("CONTAINS", "NUM", _code(value["name"], _SCHEME, value["label"]))
    measured = Dataset()
    measured.NumericValue = f"{float(value['value']):.6g}"
    ucum, meaning = _UCUM.get(value["unit"], _NO_UNITS)
    measured.MeasurementUnitsCodeSequence = Sequence([_code(ucum, "UCUM", meaning)])
    item.MeasuredValueSequence = Sequence([measured])
    return item


def _reference(image: Dataset, frame: int | None = None) -> Dataset:
    ref = Dataset()
    ref.ReferencedSOPClassUID = image.SOPClassUID
    ref.ReferencedSOPInstanceUID = image.SOPInstanceUID
    if frame is not None and int(image.get("NumberOfFrames", 1) or 1) > 1:
        ref.ReferencedFrameNumber = frame
    return ref


def _group(annotation: Annotation, image: Dataset) -> Dataset:
    group = _item("CONTAINS", "CONTAINER", _code("125007", "DCM", "Measurement Group"))
    group.ContinuityOfContent = "SEPARATE"
    content = [_text("tool", "Annotation tool", annotation.get_tool_display())]
    if annotation.text.strip():
        content.append(_text("text", "Annotation text", annotation.text.strip()))
    for value in annotation.values:
        if isinstance(value["value"], (int, float)) and not isinstance(value["value"], bool):
            content.append(_num(value))
        else:
            content.append(
                _text(value["name"], value["label"], f"{value['value']} {value['unit']}")
            )
    content.append(_text("calibration", "Calibration", annotation.calibration_note or "none"))
    shown_on = _item("CONTAINS", "IMAGE", _code("121112", "DCM", "Source of Measurement"))
    shown_on.ReferencedSOPSequence = Sequence([_reference(image, annotation.frame)])
    content.append(shown_on)
    group.ContentSequence = Sequence(content)
    return group


def measurement_report_build(
    *,
    study: Study,
    annotations: list[Annotation],
    images: dict[int, Dataset],
    header: Dataset,
    series_uid: str,
    series_number: int,
    instance_number: int,
) -> Dataset:
    """A Comprehensive SR of the annotations' values; `header` holds the copied patient and
    study attributes (those of the presentation state)."""
    now = timezone.localtime()
    ds = Dataset()
    for element in header:
        if element.keyword in _COPY_FROM_HEADER:
            ds.add(element)
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = COMPREHENSIVE_SR_SOP_CLASS
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = study.study_instance_uid
    ds.Modality = "SR"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    ds.SeriesDescription = SERIES_DESCRIPTION
    ds.ReferencedPerformedProcedureStepSequence = Sequence()
    ds.Manufacturer = settings.PORTAL_CLINIC_NAME[:64]
    ds.InstanceNumber = instance_number
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"
    ds.ContentDate = ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.ContentTime = ds.InstanceCreationTime = now.strftime("%H%M%S")
    ds.PerformedProcedureCodeSequence = Sequence()

    by_series: dict[str, list[Dataset]] = {}
    seen: set[int] = set()
    for annotation in annotations:
        if annotation.instance_id not in seen:
            seen.add(annotation.instance_id)
            image = images[annotation.instance_id]
            by_series.setdefault(str(image.SeriesInstanceUID), []).append(_reference(image))
    evidence = Dataset()
    evidence.StudyInstanceUID = study.study_instance_uid
    evidence.ReferencedSeriesSequence = Sequence()
    for uid, references in by_series.items():
        series = Dataset()
        series.SeriesInstanceUID = uid
        series.ReferencedSOPSequence = Sequence(references)
        evidence.ReferencedSeriesSequence.append(series)
    ds.CurrentRequestedProcedureEvidenceSequence = Sequence([evidence])

    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = Sequence([_code("126000", "DCM", "Imaging Measurement Report")])
    ds.ContinuityOfContent = "SEPARATE"
    ds.ContentSequence = Sequence(
        [_group(a, images[a.instance_id]) for a in annotations if a.values]
    )

    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds
