"""The portal's index (patients, studies, series, instances) as DICOM JSON attributes.

QIDO-RS answers from these, and metadata takes the patient module from here too: the index is
what the portal serves, so a study moved to its right patient shows that patient everywhere.
"""

from __future__ import annotations

from datetime import date, time

from clinic.models import Patient
from imaging.dicomweb.dicomjson import Json, attributes, tag_hex
from imaging.models import Instance, Series, Study


def patient_name(patient: Patient) -> str:
    """PS3.3 C.7.1.1.1.1, veterinary: family name = responsible party, given name = the animal."""
    return f"{responsible_party(patient)}^{patient.name}"


def responsible_party(patient: Patient) -> str:
    owner = patient.owner
    if owner is not None:
        return owner.last_name or owner.organization
    return patient.responsible_person.split("^")[0]


def patient_json(patient: Patient) -> Json:
    owner = patient.owner
    if owner is not None:
        responsible = f"{owner.last_name}^{owner.first_name}".rstrip("^")
        organization = owner.organization
    else:
        responsible, organization = patient.responsible_person, ""
    return attributes(
        [
            ("PatientName", patient_name(patient)),
            ("PatientID", patient.patient_id),
            ("IssuerOfPatientID", patient.issuer),
            ("PatientBirthDate", _da(patient.birth_date)),
            ("PatientSex", patient.sex),
            ("PatientSexNeutered", patient.neutered),
            ("PatientWeight", str(patient.weight_kg) if patient.weight_kg is not None else ""),
            ("PatientSpeciesDescription", patient.species_label),
            ("PatientBreedDescription", patient.breed),
            ("ResponsiblePerson", responsible),
            ("ResponsiblePersonRole", "OWNER" if responsible or organization else ""),
            ("ResponsibleOrganization", organization),
        ]
    )


# Tags of `patient_json`, which replace the stored header's own in metadata.
PATIENT_TAGS = frozenset(
    tag_hex(t)
    for t in (
        0x00100010, 0x00100020, 0x00100021, 0x00100030, 0x00100040, 0x00102203,
        0x00101030, 0x00102201, 0x00102292, 0x00102297, 0x00102298, 0x00102299,
    )
)  # fmt: skip


def study_json(study: Study, *, root: str) -> Json:
    modalities = [m for m in study.modalities.split("\\") if m]
    out = patient_json(study.patient)
    out.update(
        attributes(
            [
                ("StudyInstanceUID", study.study_instance_uid),
                ("StudyDate", _da(study.study_date)),
                ("StudyTime", _tm(study.study_time)),
                ("AccessionNumber", study.accession_number),
                ("StudyID", study.study_id),
                ("StudyDescription", study.description),
                ("ReferringPhysicianName", study.referring_physician),
                ("InstitutionName", study.institution),
                ("ModalitiesInStudy", modalities),
                ("NumberOfStudyRelatedSeries", study.series_count),
                ("NumberOfStudyRelatedInstances", study.instance_count),
                ("RetrieveURL", f"{root}/studies/{study.study_instance_uid}"),
            ]
        )
    )
    out["00080005"] = {"vr": "CS", "Value": ["ISO_IR 192"]}
    return out


def series_json(series: Series, *, root: str, study_uid: str) -> Json:
    return attributes(
        [
            ("SpecificCharacterSet", "ISO_IR 192"),
            ("StudyInstanceUID", study_uid),
            ("SeriesInstanceUID", series.series_instance_uid),
            ("Modality", series.modality),
            ("SeriesNumber", series.series_number),
            ("SeriesDescription", series.description),
            ("BodyPartExamined", series.body_part),
            ("ViewPosition", series.view_position),
            ("Laterality", series.laterality),
            ("ProtocolName", series.protocol_name),
            ("NumberOfSeriesRelatedInstances", series.instance_count),
            ("RetrieveURL", f"{root}/studies/{study_uid}/series/{series.series_instance_uid}"),
        ]
    )


def instance_json(instance: Instance, *, root: str, study_uid: str, series_uid: str) -> Json:
    url = f"{root}/studies/{study_uid}/series/{series_uid}/instances/{instance.sop_instance_uid}"
    return attributes(
        [
            ("SpecificCharacterSet", "ISO_IR 192"),
            ("StudyInstanceUID", study_uid),
            ("SeriesInstanceUID", series_uid),
            ("SOPClassUID", instance.sop_class_uid),
            ("SOPInstanceUID", instance.sop_instance_uid),
            ("InstanceNumber", instance.instance_number),
            ("Rows", instance.rows),
            ("Columns", instance.columns),
            ("NumberOfFrames", instance.number_of_frames),
            ("AvailableTransferSyntaxUID", instance.transfer_syntax_uid),
            ("RetrieveURL", url),
        ]
    )


def _da(value: date | None) -> str:
    return value.strftime("%Y%m%d") if value else ""


def _tm(value: time | None) -> str:
    return value.strftime("%H%M%S") if value else ""
