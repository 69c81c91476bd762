"""A two-series study of Rex as it arrives (real ingest, real files), a second study of another
patient, and shares of the first."""

from datetime import date
from decimal import Decimal

import pytest
from pydicom.uid import generate_uid

from clinic.models import Neutered, Owner, Patient, Sex, Species
from imaging.ingest import instance_receive_dataset, studies_complete
from imaging.models import Study
from imaging.synthetic import make_dataset
from sharing import shares


@pytest.fixture
def rex(db) -> Patient:
    owner = Owner.objects.create(last_name="Smith", first_name="John", address="1 Elm Street")
    return Patient.objects.create(
        patient_id="P-1001", name="Rex", owner=owner, species=Species.CANINE,
        breed="Labrador Retriever", sex=Sex.MALE, neutered=Neutered.ALTERED,
        birth_date=date(2019, 4, 2), weight_kg=Decimal("31.50"),
    )  # fmt: skip


def ingest_study(
    *, patient_id: str = "P-1001", patient_name: str = "Smith^Rex", images: int = 2, views=None
) -> Study:
    """A DR thorax study received through ingest, one series per view."""
    study_uid, frame_of_reference = generate_uid(), generate_uid()
    views = views or [(1, "RL", "Thorax R LAT"), (2, "VD", "Thorax VD")]
    for number, position, description in views:
        series_uid = generate_uid()
        for instance_number in range(1, images + 1):
            ds = make_dataset(
                study_uid=study_uid, series_uid=series_uid, series_number=number,
                instance_number=instance_number, view_position=position,
                series_description=description, patient_id=patient_id,
                patient_name=patient_name,
            )  # fmt: skip
            ds.InstitutionName = "Elm Street Veterinary Clinic"
            ds.PatientWeight = "31.5"
            ds.OperatorsName = "Tech^Tina"
            ds.add_new(0x00091010, "LO", "private owner note")
            ds.FrameOfReferenceUID = frame_of_reference
            instance_receive_dataset(dataset=ds, calling_ae="DR1")
    study = Study.objects.get(study_instance_uid=study_uid)
    studies_complete(study_ids=[study.pk])
    study.refresh_from_db()
    return study


@pytest.fixture
def study(rex) -> Study:
    return ingest_study()


@pytest.fixture
def other_study(db) -> Study:
    return ingest_study(patient_id="P-2002", patient_name="Jones^Bella")


@pytest.fixture
def make_share(study, vet):
    def make(**options) -> shares.Created:
        options.setdefault("email", "specialist@example.org")
        return shares.share_create(study=options.pop("study", study), user=vet, **options)

    return make


def series_uids(study: Study) -> list[str]:
    return list(
        study.series.order_by("series_number").values_list("series_instance_uid", flat=True)
    )
