"""A small clinic in the index for the Query/Retrieve tests: three animals, four studies."""

from dataclasses import dataclass
from datetime import date, time

from pydicom.uid import ExplicitVRLittleEndian

from clinic.models import Neutered, Owner, Patient, Sex, Species
from imaging.models import Instance, Series, Study

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
DX_IMAGE = "1.2.840.10008.5.1.4.1.1.1.1"
SR_DOCUMENT = "1.2.840.10008.5.1.4.1.1.88.11"


@dataclass
class Clinic:
    rex: Patient
    mimi: Patient
    thunder: Patient
    rex_thorax: Study
    rex_ct: Study
    mimi_dental: Study
    thunder_leg: Study
    ct_series: Series


def _study(patient, uid, *, on, at, modalities, accession, description, series):
    study = Study.objects.create(
        study_instance_uid=uid, patient=patient, accession_number=accession,
        study_id=accession[-4:], study_date=on, study_time=at, description=description,
        modalities=modalities, referring_physician="Berg^Anna", institution="Vet Clinic",
        series_count=len(series), instance_count=sum(len(s[3]) for s in series),
    )  # fmt: skip
    made = []
    for number, (series_uid, modality, body_part, instances) in enumerate(series, start=1):
        one = Series.objects.create(
            study=study, series_instance_uid=series_uid, series_number=number,
            modality=modality, description=f"{body_part} series", body_part=body_part,
            instance_count=len(instances),
        )  # fmt: skip
        for index, (sop_uid, sop_class) in enumerate(instances, start=1):
            Instance.objects.create(
                series=one, sop_instance_uid=sop_uid, sop_class_uid=sop_class,
                instance_number=index, transfer_syntax_uid=ExplicitVRLittleEndian,
                rows=512, columns=256, size_bytes=1000, sha256="0" * 64, storage_key="k",
            )  # fmt: skip
        made.append(one)
    return study, made


def clinic_build() -> Clinic:
    smith = Owner.objects.create(last_name="Smith", first_name="Sarah")
    muller = Owner.objects.create(last_name="Müller", first_name="Jürgen")
    farm = Owner.objects.create(last_name="", organization="Green Acres Farm")
    rex = Patient.objects.create(
        patient_id="P-1001", name="Rex", owner=smith, species=Species.CANINE,
        breed="Labrador Retriever", sex=Sex.MALE, neutered=Neutered.ALTERED,
        birth_date=date(2019, 4, 2), weight_kg="31.50",
    )  # fmt: skip
    mimi = Patient.objects.create(
        patient_id="P-1002", name="Mimi", owner=muller, species=Species.FELINE, sex=Sex.FEMALE
    )
    thunder = Patient.objects.create(
        patient_id="P-1003", name="Thunder", owner=farm, species=Species.EQUINE
    )
    rex_thorax, _ = _study(
        rex, "1.2.3.1", on=date(2024, 1, 15), at=time(9, 30), modalities="DX",
        accession="A0001", description="Thorax",
        series=[("1.2.3.1.1", "DX", "CHEST", [("1.2.3.1.1.1", DX_IMAGE), ("1.2.3.1.1.2", DX_IMAGE)])],
    )  # fmt: skip
    rex_ct, ct = _study(
        rex, "1.2.3.2", on=date(2024, 2, 1), at=time(14, 0), modalities="CT\\SR",
        accession="A0002", description="CT abdomen",
        series=[
            ("1.2.3.2.1", "CT", "ABDOMEN", [(f"1.2.3.2.1.{n}", CT_IMAGE) for n in range(1, 4)]),
            ("1.2.3.2.2", "SR", "ABDOMEN", [("1.2.3.2.2.1", SR_DOCUMENT)]),
        ],
    )  # fmt: skip
    mimi_dental, _ = _study(
        mimi, "1.2.3.3", on=date(2024, 1, 20), at=time(16, 45), modalities="IO",
        accession="A0003", description="Dental",
        series=[("1.2.3.3.1", "IO", "JAW", [("1.2.3.3.1.1", DX_IMAGE)])],
    )  # fmt: skip
    thunder_leg, _ = _study(
        thunder, "1.2.3.4", on=date(2023, 12, 30), at=time(8, 0), modalities="DX",
        accession="A0004", description="Left fore",
        series=[("1.2.3.4.1", "DX", "LEG", [("1.2.3.4.1.1", DX_IMAGE)])],
    )  # fmt: skip
    return Clinic(rex, mimi, thunder, rex_thorax, rex_ct, mimi_dental, thunder_leg, ct[0])
