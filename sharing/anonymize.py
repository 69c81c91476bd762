"""De-identification of a share's DICOM: PS3.15 Annex E Basic Application Level Confidentiality
Profile with the Retain Patient Characteristics and Retain Longitudinal Temporal Information
with Modified Dates options.

What a specialist needs stays: species, breed, sex, neutered status, age, weight, the study's
and series' descriptions. Owner, clinic patient ID, every person's name, addresses, the clinic
and device are removed. Dates move by the same number of days in every file of a share, and
UIDs are replaced by `2.25.` UIDs derived from the share's secret salt, so the same UID maps to
the same replacement in every file, metadata answer and ZIP of that share: the study stays whole.
The same rules run on datasets (files) and on DICOM JSON (metadata answers).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime, timedelta

from pydicom import Dataset
from pydicom.datadict import keyword_for_tag
from pydicom.sequence import Sequence
from pydicom.tag import Tag

# Encapsulated PDF (a report with the clinic's letterhead and the owner's name) cannot be
# cleaned attribute by attribute: anonymized shares leave it out.
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
STANDARD_UID_ROOT = "1.2.840.10008."  # SOP classes, transfer syntaxes, coding schemes: kept

KEEP, REMOVE, EMPTY, DUMMY, UID, DATE, DATETIME = "K", "X", "Z", "D", "U", "DA", "DT"

# Patient characteristics kept on purpose (Retain Patient Characteristics Option, 113108).
_KEEP = {
    "PatientSex", "PatientAge", "PatientWeight", "PatientSize", "PatientSexNeutered",
    "PatientSpeciesDescription", "PatientSpeciesCodeSequence", "PatientBreedDescription",
    "PatientBreedCodeSequence", "StudyDescription", "SeriesDescription", "BodyPartExamined",
    "ViewPosition", "ProtocolName", "ImageLaterality", "Laterality",
}  # fmt: skip
_DUMMY = {"PatientName": "Anonymized", "PatientID": "ANONYMIZED"}
# Type 2 attributes that must stay present, emptied.
_EMPTY = {"AccessionNumber", "StudyID", "ReferringPhysicianName", "PatientBirthDate",
          "ContentCreatorName"}  # fmt: skip
# Annex E "X" attributes that identify the patient, the owner, the clinic or the device.
_REMOVE = {
    "OtherPatientIDs", "OtherPatientIDsSequence", "OtherPatientNames", "PatientBirthName",
    "PatientMotherBirthName", "PatientAddress", "PatientTelephoneNumbers",
    "PatientTelecomInformation", "PatientBirthTime", "PatientComments", "PatientState",
    "AdditionalPatientHistory", "MedicalRecordLocator", "IssuerOfPatientID",
    "IssuerOfPatientIDQualifiersSequence", "IssuerOfAccessionNumberSequence",
    "ResponsiblePerson", "ResponsiblePersonRole", "ResponsibleOrganization",
    "BreedRegistrationSequence", "InstitutionName", "InstitutionAddress",
    "InstitutionalDepartmentName", "InstitutionCodeSequence", "StationName",
    "DeviceSerialNumber", "DeviceUID", "PlateID", "DetectorID", "GantryID",
    "ReferringPhysicianAddress", "ReferringPhysicianTelephoneNumbers",
    "ReferringPhysicianIdentificationSequence", "PhysiciansOfRecord",
    "PerformingPhysicianName", "NameOfPhysiciansReadingStudy", "OperatorsName",
    "RequestingPhysician", "RequestAttributesSequence", "RequestedProcedureID",
    "ScheduledProcedureStepID", "PerformedProcedureStepID", "PerformedStationName",
    "PerformedLocation", "ImageComments", "StudyComments", "ReferencedPatientSequence",
    "CountryOfResidence", "RegionOfResidence", "CurrentPatientLocation",
    "MilitaryRank", "Occupation", "EthnicGroup", "PatientInsurancePlanCodeSequence",
    "SourceApplicationEntityTitle", "SendingApplicationEntityTitle",
    "ReceivingApplicationEntityTitle", "InstanceCreatorUID", "OriginalAttributesSequence",
}  # fmt: skip

METHOD = "PS3.15 E Basic; Retain Patient Chars; Modified Dates"  # LO: at most 64
METHOD_CODES = [
    ("113100", "Basic Application Confidentiality Profile"),
    ("113108", "Retain Patient Characteristics Option"),
    ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
]


def action_for(keyword: str, vr: str, *, private: bool) -> str:
    """What happens to one attribute, by keyword and VR."""
    if private:
        return REMOVE
    if keyword in _KEEP:
        return KEEP
    if keyword in _DUMMY:
        return DUMMY
    if keyword in _EMPTY:
        return EMPTY
    if keyword in _REMOVE:
        return REMOVE
    if vr == "PN":
        return EMPTY  # every other person's name
    if vr == "UI":
        return UID
    if vr == "DA":
        return DATE
    if vr == "DT":
        return DATETIME
    return KEEP


class Anonymizer:
    """One share's consistent replacement of UIDs and shift of dates."""

    def __init__(self, salt: str) -> None:
        self._key = salt.encode()
        digest = hmac.new(self._key, b"date-shift", hashlib.sha256).digest()
        # Between one and ten years back; the same for every date of the share.
        self.shift = timedelta(days=-(365 + int.from_bytes(digest[:4], "big") % 3286))
        self._uids: dict[str, str] = {}

    # Values

    def uid(self, value: str) -> str:
        value = value.strip().rstrip("\0")
        if not value or value.startswith(STANDARD_UID_ROOT):
            return value
        mapped = self._uids.get(value)
        if mapped is None:
            digest = hmac.new(self._key, b"uid:" + value.encode(), hashlib.sha256).digest()
            mapped = "2.25." + str(int.from_bytes(digest[:16], "big"))
            self._uids[value] = mapped
        return mapped

    def date(self, value: str) -> str:
        """A DA value (or range) moved by the share's shift; unreadable dates become empty."""
        if "-" in value:
            return "-".join(self.date(part) if part else "" for part in value.split("-"))
        text = value.strip()
        if not text:
            return ""
        try:
            moved = datetime.strptime(text[:8], "%Y%m%d").date() + self.shift
        except ValueError:
            return ""
        return moved.strftime("%Y%m%d")

    def datetime(self, value: str) -> str:
        text = value.strip()
        if len(text) < 8:
            return ""
        moved = self.date(text[:8])
        return moved + text[8:] if moved else ""

    def _value(self, action: str, value):
        if action == UID:
            return self.uid(str(value))
        if action == DATE:
            return self.date(str(value))
        if action == DATETIME:
            return self.datetime(str(value))
        return value

    # Datasets (files)

    def dataset(self, ds: Dataset, *, study_date: date | None = None) -> Dataset:
        """Anonymize the dataset in place (and its file meta) and return it."""
        age = _age(ds)
        self._walk(ds)
        if age and "PatientAge" not in ds:
            ds.PatientAge = age
        ds.PatientIdentityRemoved = "YES"
        ds.LongitudinalTemporalInformationModified = "MODIFIED"
        ds.DeidentificationMethod = METHOD
        ds.DeidentificationMethodCodeSequence = Sequence([_code(*c) for c in METHOD_CODES])
        meta = getattr(ds, "file_meta", None)
        if meta is not None and "MediaStorageSOPInstanceUID" in meta:
            meta.MediaStorageSOPInstanceUID = self.uid(meta.MediaStorageSOPInstanceUID)
            if "SourceApplicationEntityTitle" in meta:
                del meta.SourceApplicationEntityTitle
        return ds

    def _walk(self, ds: Dataset) -> None:
        for elem in list(ds):
            tag = elem.tag
            if tag.group == 0x7FE0 or tag.group == 0x0002:
                continue
            action = action_for(elem.keyword, elem.VR, private=tag.is_private)
            if action == KEEP:
                if elem.VR == "SQ":
                    for item in elem.value:
                        self._walk(item)
                continue
            if action == REMOVE:
                del ds[tag]
            elif action == EMPTY:
                elem.value = None
            elif action == DUMMY:
                elem.value = _DUMMY[elem.keyword]
            elif elem.VM == 0 or elem.value is None:
                continue
            elif elem.VM > 1:
                elem.value = [self._value(action, v) for v in elem.value]
            else:
                elem.value = self._value(action, elem.value)

    # DICOM JSON (metadata answers)

    def json(self, datasets: list[dict]) -> list[dict]:
        out = []
        for item in datasets:
            cleaned = self._json_walk(item)
            cleaned["00120062"] = {"vr": "CS", "Value": ["YES"]}
            cleaned["00120063"] = {"vr": "LO", "Value": [METHOD]}
            out.append(cleaned)
        return out

    def _json_walk(self, item: dict) -> dict:
        out = {}
        for key, element in item.items():
            tag = Tag(int(key, 16))
            vr = element.get("vr", "")
            action = action_for(keyword_for_tag(tag), vr, private=tag.is_private)
            if action == REMOVE:
                continue
            element = dict(element)
            if "BulkDataURI" in element:
                element["BulkDataURI"] = self.uri(element["BulkDataURI"])
            values = element.get("Value")
            if action == EMPTY:
                element.pop("Value", None)
            elif action == DUMMY:
                name = _DUMMY[keyword_for_tag(tag)]
                element["Value"] = [{"Alphabetic": name}] if vr == "PN" else [name]
            elif values is not None and vr == "SQ":
                element["Value"] = [self._json_walk(v) for v in values]
            elif values is not None and action in (UID, DATE, DATETIME):
                element["Value"] = [self._value(action, v) if v else v for v in values]
            elif values is not None and keyword_for_tag(tag) == "RetrieveURL":
                element["Value"] = [self.uri(v) for v in values]
            out[key] = element
        return out

    def uri(self, uri: str) -> str:
        """A RetrieveURL or BulkDataURI with the UIDs in its path replaced."""
        parts = uri.split("/")
        for index in range(1, len(parts)):
            if parts[index - 1] in ("studies", "series", "instances"):
                parts[index] = self.uid(parts[index])
        return "/".join(parts)


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = "DCM"
    item.CodeMeaning = meaning
    return item


def _age(ds: Dataset) -> str:
    """Patient's Age (e.g. `004Y`) from the birth and study dates, before they are removed."""
    if ds.get("PatientAge"):
        return ds.PatientAge
    try:
        born = datetime.strptime(str(ds.get("PatientBirthDate", "")), "%Y%m%d").date()
        seen = datetime.strptime(
            str(ds.get("StudyDate", "") or ds.get("ContentDate", "")), "%Y%m%d"
        ).date()
    except ValueError:
        return ""
    days = (seen - born).days
    if days < 0:
        return ""
    if days < 31:
        return f"{days:03d}D"
    if days < 2 * 365:
        return f"{days * 12 // 365:03d}M"
    return f"{days // 365:03d}Y"
