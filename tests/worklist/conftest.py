"""A clinic day to query: devices, owners (one with a non-ASCII name), patients and orders."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.utils import timezone

from clinic.models import Neutered, Owner, Patient, Sex, Species
from imaging.management.commands.seed_demo import Command as SeedDemo
from imaging.models import Device
from worklist import orders
from worklist.catalog import catalog_seed
from worklist.models import Order, OrderStatus, Procedure


@dataclass
class ClinicDay:
    day: date
    dr: Device
    us: Device
    rex: Patient
    mimi: Patient
    thorax: Order  # Rex, today 09:00, DR1
    abdomen_us: Order  # Mimi (owner Müller), today 10:30, US1
    stifle: Order  # Rex, tomorrow 09:00, DR1
    cancelled: Order  # Rex, today 11:00, DR1, cancelled

    @property
    def dicom_day(self) -> str:
        return self.day.strftime("%Y%m%d")


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


@pytest.fixture
def clinic_day(db) -> ClinicDay:
    catalog_seed()
    dr = Device.objects.create(name="DR room 1", ae_title="DR1", modality="DX", location="X-ray")
    us = Device.objects.create(name="Ultrasound cart", ae_title="US1", modality="US")
    smith = Owner.objects.create(last_name="Smith", first_name="Sarah")
    mueller = Owner.objects.create(last_name="Müller", first_name="Jürgen")
    rex = Patient.objects.create(
        patient_id="P-1001", name="Rex", owner=smith, species=Species.CANINE,
        breed="Labrador Retriever", sex=Sex.MALE, neutered=Neutered.ALTERED,
        birth_date=date(2019, 4, 2), weight_kg=Decimal("32.40"),
    )  # fmt: skip
    mimi = Patient.objects.create(
        patient_id="P-1002", name="Mimi", owner=mueller, species=Species.FELINE,
        breed="British Shorthair", sex=Sex.FEMALE, neutered=Neutered.UNALTERED,
        birth_date=date(2016, 9, 12), weight_kg=Decimal("4.3"),
    )  # fmt: skip
    day = timezone.localdate()
    procedure = {p.code: p for p in Procedure.objects.all()}

    def book(patient, code, device, when, **kwargs):
        return orders.order_schedule(
            patient=patient, procedure=procedure[code], device=device, scheduled_at=when, **kwargs
        )

    thorax = book(
        rex, "THX3", dr, at(day, 9), requesting_vet="Anna Berg", performing_vet="Lea Jansen",
        reason="Coughing",
    )  # fmt: skip
    abdomen = book(
        mimi, "ABDUS", us, at(day, 10, 30), requesting_vet="Piet de Vries",
        performing_vet="Piet de Vries",
    )  # fmt: skip
    stifle = book(rex, "STIF2", dr, at(day + timedelta(days=1), 9))
    cancelled = book(rex, "THX2", dr, at(day, 11))
    cancelled = orders.order_cancel(order=cancelled, reason="Owner called", user=None)
    assert cancelled.status == OrderStatus.CANCELLED
    return ClinicDay(day, dr, us, rex, mimi, thorax, abdomen, stifle, cancelled)


def demo_clinic() -> None:
    """The demo owners, patients and devices, as `seed_demo` creates them (without its studies)."""
    seed_demo = SeedDemo(stdout=StringIO())
    seed_demo._patients()
    seed_demo._devices()
