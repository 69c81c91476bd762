"""Booking helpers shared by the worklist and scheduling tests."""

from datetime import datetime, time

from django.utils import timezone

from clinic.models import Owner, Patient, Species
from imaging.models import Device
from worklist.catalog import catalog_seed
from worklist.models import Order, Procedure
from worklist.orders import order_schedule


def procedure(code: str = "THX3") -> Procedure:
    """A catalog procedure (the catalog is seeded again: transactional tests flush it)."""
    catalog_seed()
    return Procedure.objects.get(code=code)


def patient(
    name: str = "Rex", patient_id: str = "P-100", owner: str = "Smith", phone: str = "555-0100"
) -> Patient:
    return Patient.objects.create(
        patient_id=patient_id,
        name=name,
        owner=Owner.objects.create(last_name=owner, first_name="John", phone=phone),
        species=Species.CANINE,
        breed="Labrador Retriever",
    )


def device(ae_title: str = "", modality: str = "DX") -> Device:
    ae_title = ae_title or ("DR_ROOM_1" if modality == "DX" else f"{modality}_ROOM_1")
    return Device.objects.get_or_create(
        ae_title=ae_title, defaults={"name": f"{modality} room", "modality": modality}
    )[0]


def today_at(hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate(), time(hour, minute)))


def book(*, patient: Patient, code: str = "THX3", at: datetime | None = None, **kwargs) -> Order:
    proc = procedure(code)
    return order_schedule(
        patient=patient,
        procedure=proc,
        device=kwargs.pop("device", None) or device(modality=proc.modality),
        scheduled_at=at or today_at(10),
        requesting_vet=kwargs.pop("requesting_vet", "Dr Anna Vet"),
        referring_vet="",
        reason=kwargs.pop("reason", "Coughing for two weeks"),
        priority="ROUTINE",
        user=kwargs.pop("user", None),
    )
