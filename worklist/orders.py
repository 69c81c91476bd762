"""Booking exams: scheduling, changing and cancelling orders, with the identifiers consoles use.

Each order carries the identifiers a console copies from the worklist into the images it
makes: Accession Number, Requested Procedure ID, Scheduled Procedure Step ID and Study
Instance UID (PS3.4 K.6.1.2.2). The study that arrives is matched back by them.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from pydicom.uid import generate_uid

from clinic.models import Patient
from imaging.models import Device
from worklist.models import Order, OrderEvent, OrderStatus, Priority, Procedure

# Orders a console may still perform, and the statuses staff may no longer change.
OPEN_STATUSES = (OrderStatus.SCHEDULED, OrderStatus.ARRIVED, OrderStatus.IN_PROGRESS)
CLOSED_STATUSES = (OrderStatus.COMPLETED, OrderStatus.DISCONTINUED, OrderStatus.CANCELLED)


class OrderError(Exception):
    """A booking the clinic's rules refuse, with the reason in plain words."""


def _accession_number(now: datetime, *, skip: int = 0) -> str:
    """The day's next free accession number; `skip` moves past numbers a concurrent booking
    may be taking. Numbers freed by a deleted order are never handed out again."""
    day = timezone.localtime(now).date()
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    today = Order.objects.filter(created_at__gte=start, created_at__lt=start + timedelta(days=1))
    seq = today.count() + 1 + skip
    for _ in range(1000):
        # settings.WORKLIST_ACCESSION_FORMAT: `{date}` the booking day, `{seq}` its number that day.
        accession = settings.WORKLIST_ACCESSION_FORMAT.format(date=day, seq=seq)
        if len(accession) > 16:
            raise OrderError("The accession number format makes numbers longer than 16 characters.")
        if not Order.objects.filter(accession_number=accession).exists():
            return accession
        seq += 1
    raise OrderError("No free accession number is left for today with this format.")


def orders_same_day(
    *, patient: Patient, procedure: Procedure, scheduled_at: datetime, exclude: Order | None = None
) -> QuerySet[Order]:
    """Open orders of the same procedure for the same patient on the same (local) day."""
    day = timezone.localtime(scheduled_at).date()
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    found = Order.objects.filter(
        patient=patient,
        procedure=procedure,
        scheduled_at__gte=start,
        scheduled_at__lt=start + timedelta(days=1),
    ).exclude(status__in=CLOSED_STATUSES)
    if exclude is not None:
        found = found.exclude(pk=exclude.pk)
    return found


def duplicate_warning(
    *, patient: Patient, procedure: Procedure, scheduled_at: datetime, exclude: Order | None = None
) -> str:
    """The front desk's warning when this booking repeats one the same day ("" if none)."""
    same = list(
        orders_same_day(
            patient=patient, procedure=procedure, scheduled_at=scheduled_at, exclude=exclude
        )[:3]
    )
    if not same:
        return ""
    times = ", ".join(
        f"{timezone.localtime(o.scheduled_at):%H:%M} ({o.accession_number})" for o in same
    )
    return f"{patient.name} already has {procedure.name} booked that day: {times}."


def order_schedule(
    *,
    patient: Patient,
    procedure: Procedure,
    device: Device,
    scheduled_at: datetime,
    requesting_vet: str = "",
    referring_vet: str = "",
    performing_vet: str = "",
    reason: str = "",
    priority: str = Priority.ROUTINE,
    user: AbstractBaseUser | None = None,
) -> Order:
    """Book `procedure` for `patient` on `device` at `scheduled_at`, with fresh identifiers."""
    for attempt in range(5):
        now = timezone.now()
        accession = _accession_number(now, skip=attempt)
        try:
            with transaction.atomic():
                order = Order.objects.create(
                    patient=patient,
                    procedure=procedure,
                    device=device,
                    scheduled_at=scheduled_at,
                    requesting_vet=requesting_vet,
                    referring_vet=referring_vet,
                    performing_vet=performing_vet,
                    reason=reason,
                    priority=priority,
                    accession_number=accession,
                    requested_procedure_id=accession,
                    scheduled_step_id=f"{accession[:14]}S1",
                    study_instance_uid=generate_uid(),
                    created_by=user if user and user.is_authenticated else None,
                    created_at=now,
                    updated_at=now,
                )
                _event(order, "booked", f"Booked {procedure.name} on {device.name} for "
                       f"{_when(scheduled_at)}.", user)  # fmt: skip
                return order
        except IntegrityError:
            # Another booking took the same sequence number a moment ago: count again.
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def order_update(
    *, order: Order, change_reason: str, user: AbstractBaseUser | None = None, **changes
) -> Order:
    """Change a booking's patient, procedure, device, time, vets, reason or priority, saying why."""
    allowed = {
        "patient", "procedure", "device", "scheduled_at", "requesting_vet", "referring_vet",
        "performing_vet", "reason", "priority",
    }  # fmt: skip
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot change {', '.join(sorted(unknown))}")
    change_reason = change_reason.strip()
    if not change_reason:
        raise OrderError("Say why the booking changes.")
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status in CLOSED_STATUSES:
            raise OrderError(
                f"This order is {order.get_status_display().lower()}: it cannot change."
            )
        changed = []
        for name, value in changes.items():
            before = getattr(order, name)
            if before != value:
                changed.append(_change_text(name, before, value))
                setattr(order, name, value)
        if not changed:
            return order
        order.updated_at = timezone.now()
        order.save()
        _event(order, "changed", f"{'; '.join(changed)}. Why: {change_reason}", user)
    return order


def _change_text(name: str, before, after) -> str:
    label = Order._meta.get_field(name).verbose_name
    if name == "scheduled_at":
        return f"time {_when(before)} → {_when(after)}"
    if name == "reason":
        return "clinical history edited"
    return f"{label} {before or '—'} → {after or '—'}"


def _when(moment: datetime) -> str:
    return f"{timezone.localtime(moment):%d %b %H:%M}"


def _event(order: Order, kind: str, message: str, user: AbstractBaseUser | None) -> None:
    OrderEvent.objects.create(
        order=order,
        kind=kind,
        message=message,
        user=user if user is not None and user.is_authenticated else None,
    )


def order_cancel(*, order: Order, reason: str, user: AbstractBaseUser | None = None) -> Order:
    """Cancel a booking that has not been performed; the console's worklist drops it."""
    reason = reason.strip()
    if not reason:
        raise OrderError("Say why the exam is cancelled.")
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status != OrderStatus.SCHEDULED:
            raise OrderError(
                f"This order is {order.get_status_display().lower()}: only scheduled exams "
                "can be cancelled."
            )
        order.status = OrderStatus.CANCELLED
        order.status_reason = reason[:200]
        order.updated_at = timezone.now()
        order.save(update_fields=["status", "status_reason", "updated_at"])
        _event(order, "cancelled", f"Cancelled. Why: {reason}", user)
    return order


# Where a console's reports (MPPS) and arriving images may move an order. Closed orders stay.
STATUS_TRANSITIONS: dict[str, tuple[str, ...]] = {
    OrderStatus.SCHEDULED: (
        OrderStatus.ARRIVED,
        OrderStatus.IN_PROGRESS,
        OrderStatus.COMPLETED,
        OrderStatus.DISCONTINUED,
        OrderStatus.CANCELLED,
    ),
    OrderStatus.ARRIVED: (OrderStatus.IN_PROGRESS, OrderStatus.COMPLETED, OrderStatus.DISCONTINUED),
    OrderStatus.IN_PROGRESS: (OrderStatus.COMPLETED, OrderStatus.DISCONTINUED),
}


def order_status_set(
    *, order: Order, status: str, reason: str = "", user: AbstractBaseUser | None = None
) -> Order:
    """Move an order to `status` when its current status allows it (setting the same status
    again changes nothing). The row is locked, so a console's report and staff cannot both win."""
    if status not in OrderStatus.values:
        raise OrderError(f"Unknown order status {status!r}.")
    with transaction.atomic():
        current = Order.objects.select_for_update().get(pk=order.pk)
        if current.status != status:
            if status not in STATUS_TRANSITIONS.get(current.status, ()):
                raise OrderError(
                    f"Order {current.accession_number} is "
                    f"{current.get_status_display().lower()} and cannot become "
                    f"{OrderStatus(status).label.lower()}."
                )
            current.status = status
            current.status_reason = reason.strip()[:200]
            current.updated_at = timezone.now()
            current.save(update_fields=["status", "status_reason", "updated_at"])
            label = OrderStatus(status).label
            _event(current, "status", f"{label}." + (f" {reason.strip()}" if reason else ""), user)
    order.status, order.status_reason = current.status, current.status_reason
    order.updated_at = current.updated_at
    return order
