"""What every converted file carries: the patient, the study, the series and the SOP Common
module, UIDs derived so the same file added twice is one instance, and the Part-10 writing."""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.utils import timezone
from pydicom import Dataset, dcmwrite
from pydicom.dataset import FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID
from pydicom.valuerep import PersonName

from clinic.models import Patient, Species
from imaging.models import Study

COPY_CHUNK = 1 << 20


class MediaRefused(Exception):
    """A file the portal will not convert; str(e) says why, in a clinic's words."""


@dataclass(frozen=True)
class Target:
    """Where converted files go: the study (existing, or new for the patient) and the series."""

    patient: Patient
    study_uid: str
    series_uid: str
    series_number: int
    study: Study | None = None
    study_description: str = ""


# The namespace of the portal's name-based UUIDs (any fixed UUID serves; this one is random).
_UID_NAMESPACE = uuid.UUID("6f1d0c2e-43a8-4b5e-9d55-0a6a3c2b7e14")


def derived_uid(*parts: object) -> str:
    """A UID derived from `parts`: the same parts give the same UID. PS3.5 B.2: "2.25." and
    the UUID (here name-based, RFC 9562 version 5) as one decimal integer."""
    name = "\x1f".join(str(part) for part in parts)
    return f"2.25.{uuid.uuid5(_UID_NAMESPACE, name).int}"


def instance_uid(*, sha256: str, study_uid: str) -> str:
    """The SOP Instance UID of a file added to a study: one file, one instance per study."""
    return derived_uid("portal-media-instance", study_uid, sha256)


def _species_label(patient: Patient) -> str:
    if patient.species == Species.OTHER:
        return patient.species_text
    return patient.get_species_display()


def patient_module(patient: Patient) -> Dataset:
    """The Patient module for one of the clinic's patients, in the veterinary convention."""
    ds = Dataset()
    owner = patient.owner
    family = (owner.last_name or owner.organization) if owner else ""
    if not family and patient.responsible_person:
        family = patient.responsible_person.split("^")[0]
    # PS3.3 C.7.1.1.1.1: family name = the responsible party, given name = the animal.
    ds.PatientName = PersonName.from_named_components_veterinary(
        responsible_party_name=family, patient_name=patient.name
    )
    ds.PatientID = patient.patient_id
    # The clinic's own patients carry no issuer here; DICOM names the clinic's (as the worklist does).
    issuer = patient.issuer or settings.PATIENT_ID_ISSUER
    if issuer:
        ds.IssuerOfPatientID = issuer
    ds.PatientBirthDate = patient.birth_date.strftime("%Y%m%d") if patient.birth_date else ""
    ds.PatientSex = patient.sex if patient.sex in ("M", "F", "O") else ""
    # PS3.3 C.7.1.1: the veterinary attributes are type 2C/1C for a non-human patient.
    ds.PatientSpeciesDescription = _species_label(patient)[:64]
    ds.PatientBreedDescription = patient.breed[:64]
    ds.PatientBreedCodeSequence = []
    ds.BreedRegistrationSequence = []
    ds.PatientSexNeutered = patient.neutered if patient.neutered in ("ALTERED", "UNALTERED") else ""
    if owner:
        ds.ResponsiblePerson = f"{owner.last_name}^{owner.first_name}".rstrip("^")
        ds.ResponsiblePersonRole = "OWNER"
    elif patient.responsible_person:
        ds.ResponsiblePerson = patient.responsible_person[:64]
        ds.ResponsiblePersonRole = "OWNER"
    ds.ResponsibleOrganization = (owner.organization if owner else "")[:64]  # type 2C for animals
    return ds


def base_dataset(
    *,
    target: Target,
    sop_class: str,
    sop_uid: str,
    modality: str,
    series_description: str,
    instance_number: int,
    created: datetime | None = None,
) -> Dataset:
    """Patient, General Study, General Series, General Equipment and SOP Common modules."""
    now = timezone.localtime()
    ds = patient_module(target.patient)
    ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: owners' and animals' names in any language
    study = target.study
    ds.StudyInstanceUID = target.study_uid
    if study is not None:
        ds.StudyDate = study.study_date.strftime("%Y%m%d") if study.study_date else ""
        ds.StudyTime = study.study_time.strftime("%H%M%S") if study.study_time else ""
        ds.AccessionNumber = study.accession_number
        ds.StudyID = study.study_id
        ds.ReferringPhysicianName = study.referring_physician
        ds.StudyDescription = study.description
    else:
        ds.StudyDate = now.strftime("%Y%m%d")
        ds.StudyTime = now.strftime("%H%M%S")
        ds.AccessionNumber = ""
        ds.StudyID = ""
        ds.ReferringPhysicianName = ""
        ds.StudyDescription = target.study_description[:64]
    ds.SeriesInstanceUID = target.series_uid
    ds.SeriesNumber = target.series_number
    ds.SeriesDescription = series_description[:64]
    ds.Modality = modality
    ds.SeriesDate = now.strftime("%Y%m%d")
    ds.SeriesTime = now.strftime("%H%M%S")
    ds.Manufacturer = ""  # PS3.3 C.7.5.1: type 2, the device that made the file is unknown
    ds.InstitutionName = getattr(settings, "PORTAL_CLINIC_NAME", "")[:64]
    ds.InstanceNumber = instance_number
    taken = created or now
    ds.ContentDate = taken.strftime("%Y%m%d")
    ds.ContentTime = taken.strftime("%H%M%S")
    ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.InstanceCreationTime = now.strftime("%H%M%S")
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    return ds


def write_part10(ds: Dataset, path: Path, *, transfer_syntax: str) -> None:
    """Write `ds` as a Part-10 file (explicit VR little endian encoding for every syntax used here)."""
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    dcmwrite(path, ds, enforce_file_format=True)


def append_encapsulated_fragment(path: Path, source: BinaryIO, length: int) -> None:
    """Append Pixel Data (7FE0,0010) holding `length` bytes of `source` as a single fragment.

    PS3.5 A.4 and 8.2.8: undefined length, an empty Basic Offset Table item, one fragment
    (padded to even length with a trailing zero), then the sequence delimiter. The stream is
    copied in chunks, so a long video is never held in memory whole.
    """
    padded = length + (length & 1)
    if padded > 0xFFFFFFFE:
        raise MediaRefused("the file is larger than DICOM can hold in one piece (4 GB)")
    with open(path, "ab") as out:
        out.write(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, 0xFFFFFFFF))
        out.write(struct.pack("<HHI", 0xFFFE, 0xE000, 0))
        out.write(struct.pack("<HHI", 0xFFFE, 0xE000, padded))
        source.seek(0)
        remaining = length
        while remaining:
            chunk = source.read(min(COPY_CHUNK, remaining))
            if not chunk:
                raise MediaRefused("the file was cut short while it was read")
            out.write(chunk)
            remaining -= len(chunk)
        if padded != length:
            out.write(b"\0")
        out.write(struct.pack("<HHI", 0xFFFE, 0xE0DD, 0))
        out.flush()
