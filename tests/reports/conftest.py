"""A thorax study of Rex as it arrives (real ingest, real files), and signed-in clients."""

from datetime import date
from decimal import Decimal

import pytest
from django.test import Client
from pydicom.uid import generate_uid
from rest_framework.test import APIClient

from clinic.models import Neutered, Owner, Patient, Sex, Species
from imaging.ingest import instance_receive_dataset, studies_complete
from imaging.models import Annotation, CalibrationSource, Instance, Study
from imaging.synthetic import make_dataset
from reports.catalog import template_seed


@pytest.fixture
def rex(db) -> Patient:
    # The seeded report templates too: a transactional (live server) test that ran before
    # empties every table, the data migration's rows included.
    template_seed()
    owner = Owner.objects.create(last_name="Smith", first_name="John", email="john@example.org")
    return Patient.objects.create(
        patient_id="P-1001",
        name="Rex",
        owner=owner,
        species=Species.CANINE,
        breed="Labrador Retriever",
        sex=Sex.MALE,
        neutered=Neutered.ALTERED,
        birth_date=date(2019, 4, 2),
        weight_kg=Decimal("31.50"),
    )


def ingest_study(*, study_uid: str | None = None, views=None, **fields) -> Study:
    """A DR thorax study received through the portal's ingest, one series per view."""
    study_uid = study_uid or generate_uid()
    views = views or [(1, "RL", "Thorax R LAT"), (2, "VD", "Thorax VD")]
    for number, position, description in views:
        dataset = make_dataset(
            study_uid=study_uid,
            series_number=number,
            view_position=position,
            series_description=description,
            rows=128,
            columns=128,
            **fields,
        )
        instance_receive_dataset(dataset=dataset, calling_ae="DR_ROOM_1")
    study = Study.objects.get(study_instance_uid=study_uid)
    studies_complete(study_ids=[study.pk])
    study.refresh_from_db()
    return study


@pytest.fixture
def study(rex) -> Study:
    return ingest_study()


@pytest.fixture
def image(study) -> Instance:
    return Instance.objects.filter(series__study=study).order_by("series__series_number").first()


@pytest.fixture
def length_annotation(image, vet) -> Annotation:
    """A length on the lateral: a line from (10, 20) to (110, 20), 50.0 mm."""
    return Annotation.objects.create(
        instance=image,
        study=image.series.study,
        frame=1,
        tool="length",
        geometry={"points": [[10, 20], [110, 20]]},
        values=[{"name": "length", "label": "Length", "value": 50.0, "unit": "mm"}],
        calibration_source=CalibrationSource.PIXEL_SPACING,
        author=vet,
    )


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def pages_as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client
