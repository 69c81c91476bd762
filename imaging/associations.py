"""Reading the association log: each device at a glance, and purging old rows.

"Where did my images go?" starts here: a device that sent nothing today, or whose
associations were refused, stands out with the reason in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from imaging.association_models import AssociationRecord, Outcome
from imaging.models import Device

# Callers that are not registered devices are listed when seen this recently.
UNKNOWN_CALLER_DAYS = 7


def association_records_purge(*, days: int | None = None) -> int:
    """Delete associations that started more than `days` (ASSOCIATION_LOG_DAYS) days ago."""
    days = settings.ASSOCIATION_LOG_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = AssociationRecord.objects.filter(started_at__lt=cutoff).delete()
    return deleted


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """Start and end of a local calendar day, as aware datetimes."""
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    return start, start + timedelta(days=1)


def failure_text(record: AssociationRecord) -> str:
    """'called AE title VETPACS not recognised … at 09:12 from 192.168.1.20'."""
    reason = (record.problems[0] if record.problems else "") or record.outcome_reason
    reason = reason or record.get_outcome_display()
    at = timezone.localtime(record.started_at)
    where = f" from {record.peer_host}" if record.peer_host else ""
    return f"{reason} at {at:%H:%M}{where}"


@dataclass
class DeviceActivity:
    """One device (or unknown caller) as the activity page shows it."""

    ae_title: str
    device: Device | None
    last: AssociationRecord | None = None
    last_failure: AssociationRecord | None = None
    associations_today: int = 0
    instances_today: int = 0
    rejected_today: int = 0
    failed_today: bool = False

    @property
    def name(self) -> str:
        if self.device is not None:
            return self.device.name
        return "Not a registered device" if self.ae_title else "Caller without an AE title"

    @property
    def quiet(self) -> bool:
        """A registered, active device that sent no instance today."""
        return self.device is not None and self.device.active and not self.instances_today

    @property
    def needs_attention(self) -> bool:
        return self.quiet or self.failed_today or self.device is None

    @property
    def failure(self) -> str:
        return failure_text(self.last_failure) if self.last_failure else ""

    @property
    def headline(self) -> str:
        """Why this row stands out, in words (empty when all is well)."""
        if self.rejected_today and self.last_failure is not None:
            return self.failure
        if self.device is None and self.ae_title:
            return f"calling AE title {self.ae_title} is not a registered device"
        if self.failed_today:
            return self.failure
        if self.quiet:
            return "sent nothing today"
        return ""


def device_activity(*, day: date | None = None) -> list[DeviceActivity]:
    """Every registered device and every unknown caller seen lately, those needing attention
    first: last association, instances and rejections that day, last failure."""
    day = day or timezone.localdate()
    start, end = day_bounds(day)
    incoming = AssociationRecord.objects.incoming()
    rows: dict[str, DeviceActivity] = {
        d.ae_title: DeviceActivity(ae_title=d.ae_title, device=d) for d in Device.objects.all()
    }
    recent = incoming.filter(started_at__gte=start - timedelta(days=UNKNOWN_CALLER_DAYS))
    for ae_title in recent.values_list("calling_ae", flat=True).distinct():
        rows.setdefault(ae_title, DeviceActivity(ae_title=ae_title, device=None))
    today = (
        incoming.filter(started_at__gte=start, started_at__lt=end)
        .values("calling_ae")
        .annotate(
            n=Count("pk"),
            instances=Sum("instances"),
            rejected=Count("pk", filter=Q(outcome=Outcome.REJECTED)),
            failed=Count("pk", filter=Q(problem_count__gt=0)),
        )
    )
    for entry in today:
        row = rows.get(entry["calling_ae"])
        if row is None:
            continue
        row.associations_today = entry["n"]
        row.instances_today = entry["instances"] or 0
        row.rejected_today = entry["rejected"]
        row.failed_today = bool(entry["failed"])
    seen = dict(
        incoming.filter(started_at__lt=end)
        .values_list("calling_ae")
        .annotate(last=Max("started_at"))
        .values_list("calling_ae", "last")
    )
    for ae_title, row in rows.items():
        if ae_title not in seen:
            continue
        before_end = incoming.filter(calling_ae=ae_title, started_at__lt=end)
        row.last = before_end.first()
        row.last_failure = before_end.with_problems().first()
    return sorted(rows.values(), key=lambda r: (not r.needs_attention, r.name.casefold()))


def association_log_search(
    *, text: str = "", day: date | None = None, direction: str = "", problems_only: bool = False
):
    """The log, newest first, by AE title or address, day, direction and trouble."""
    records = AssociationRecord.objects.search(text)
    if day is not None:
        start, end = day_bounds(day)
        records = records.filter(started_at__gte=start, started_at__lt=end)
    if direction:
        records = records.filter(direction=direction)
    if problems_only:
        records = records.filter(Q(problem_count__gt=0) | ~Q(outcome=Outcome.RELEASED))
    return records
