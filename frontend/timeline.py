"""A study's life in one list: received, matched, routed, sent, confirmed, shared, opened,
reported, emailed, stored — each with time and actor.

Assembled here because the sources belong to every app (imaging's association log, study
history and sends; the worklist's matching; sharing's access log; reports' history), and only
the top of the dependency arrow may read them all (DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, Min, Q

from imaging.association_models import AssociationRecord
from imaging.models import Device, RoutingFiring, SendItemState, SendState, Study
from reports.models import ReportEvent, ReportEventKind
from sharing.models import AccessAction, ShareAccess

# Study history kinds, as the timeline names them; other kinds show their own message.
EVENT_TITLES = {
    "order_matched": "Matched to an order",
    "patient_reassigned": "Moved to another patient",
    "patient_verified": "Patient confirmed",
    "instance_replaced": "Version replaced",
    "send": "Send queued",
    "share": "Shared",
    "consult": "Specialist replied",
    "annotations_exported": "Annotations saved as DICOM",
}
# Report history worth a line here (drafts and key images stay on the report's own page).
REPORT_KINDS = {
    ReportEventKind.SIGNED: "Report signed",
    ReportEventKind.ADDENDUM: "Addendum",
    ReportEventKind.STORED: "Report stored in the study",
    ReportEventKind.STORE_FAILED: "Storing the report failed",
    ReportEventKind.EMAILED: "Report emailed",
    ReportEventKind.EMAIL_FAILED: "Emailing the report failed",
}
OPENED = (AccessAction.OPENED, AccessAction.VIEWED_SERIES, AccessAction.DOWNLOADED)


@dataclass(frozen=True)
class Step:
    at: datetime
    title: str
    detail: str = ""
    actor: str = ""
    warn: bool = False


def _user(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def _received(study: Study) -> tuple[list[Step], bool]:
    """One step per association that brought instances (True), else the study's arrival."""
    records = list(
        AssociationRecord.objects.brought(study.study_instance_uid).order_by("started_at")
    )
    if not records:
        device = study.device.name if study.device_id else ""
        step = Step(
            at=study.received_at,
            title="Received",
            detail=f"{study.instance_count} instances",
            actor=device or study.sending_ae_title or "imported",
        )
        return [step], False
    devices = dict(Device.objects.values_list("ae_title", "name"))
    steps = []
    for record in records:
        counts = record.studies.get(study.study_instance_uid, {})
        parts = [f"{counts.get('new', 0)} new instances"]
        if counts.get("duplicate"):
            parts.append(f"{counts['duplicate']} duplicates dropped")
        if counts.get("replaced"):
            parts.append(f"{counts['replaced']} versions replaced")
        name = devices.get(record.calling_ae)
        actor = f"{name} ({record.calling_ae})" if name else record.calling_ae
        steps.append(
            Step(
                at=record.started_at,
                title="Received",
                detail=f"{', '.join(parts)} from {record.peer_host}"
                + (f"; {record.problem_count} problems" if record.problem_count else ""),
                actor=actor,
                warn=bool(record.problem_count),
            )
        )
    return steps, True


def _history(study: Study, *, received_logged: bool) -> list[Step]:
    steps = []
    for event in study.events.select_related("user"):
        if event.kind == "instance_replaced" and received_logged:
            continue  # counted on the association that brought the new version
        steps.append(
            Step(
                at=event.at,
                title=EVENT_TITLES.get(event.kind, event.kind.replace("_", " ").capitalize()),
                detail=event.message,
                actor=_user(event.user),
            )
        )
    return steps


def _routing(study: Study) -> list[Step]:
    return [
        Step(at=f.at, title="Routed", detail=f"Auto-routing rule “{f.rule.name}”", actor="portal")
        for f in RoutingFiring.objects.filter(study=study).select_related("rule")
    ]


def _sends(study: Study) -> list[Step]:
    steps = []
    jobs = study.send_jobs.select_related("destination").annotate(
        confirmed=Count("items", filter=Q(items__state=SendItemState.CONFIRMED)),
        sent=Count(
            "items", filter=Q(items__state__in=[SendItemState.SENT, SendItemState.CONFIRMED])
        ),
        total=Count("items"),
        first_sent=Min("items__sent_at"),
        last_confirmed=Max("items__confirmed_at"),
    )
    for job in jobs:
        where = job.destination.name
        if job.first_sent:
            steps.append(
                Step(
                    at=job.first_sent,
                    title="Sent",
                    detail=f"{job.sent} of {job.total} instances to {where}",
                    actor=where,
                )
            )
        if job.last_confirmed:
            steps.append(
                Step(
                    at=job.last_confirmed,
                    title="Confirmed",
                    detail=f"{where} confirmed {job.confirmed} of {job.total} instances",
                    actor=where,
                    warn=job.confirmed < job.total,
                )
            )
        if job.state == SendState.FAILED:
            steps.append(
                Step(
                    at=job.finished_at or job.created_at,
                    title="Send failed",
                    detail=f"to {where}: {job.error}",
                    actor=where,
                    warn=True,
                )
            )
    return steps


def _opened(study: Study) -> list[Step]:
    """The first opening of each share link by the specialist, and how often they came back."""
    steps = []
    accesses = (
        ShareAccess.objects.filter(share__study=study, action__in=OPENED)
        .values("share", "share__email", "share__consultant__name")
        .annotate(first=Min("at"), times=Count("pk"))
    )
    for entry in accesses:
        who = entry["share__consultant__name"] or entry["share__email"]
        steps.append(
            Step(
                at=entry["first"],
                title="Opened by the specialist",
                detail=f"{entry['times']} visits" if entry["times"] > 1 else "",
                actor=who,
            )
        )
    return steps


def _reports(study: Study) -> list[Step]:
    events = ReportEvent.objects.filter(report__study=study, kind__in=list(REPORT_KINDS))
    return [
        Step(
            at=event.at,
            title=REPORT_KINDS[event.kind],
            detail=event.message,
            actor=_user(event.user),
            warn=event.kind in (ReportEventKind.STORE_FAILED, ReportEventKind.EMAIL_FAILED),
        )
        for event in events.select_related("user")
    ]


def study_timeline(*, study: Study, user) -> list[Step]:
    """Everything that happened to the study, oldest first, as far as `user` may see."""
    received, logged = _received(study)
    steps = received + _history(study, received_logged=logged)
    steps += _routing(study)
    if user.has_perm("imaging.view_sendjob"):
        steps += _sends(study)
    if user.has_perm("sharing.view_share"):
        steps += _opened(study)
    else:
        steps = [s for s in steps if s.title not in ("Shared", "Specialist replied")]
    if user.has_perm("reports.view_report"):
        steps += _reports(study)
    return sorted(steps, key=lambda step: step.at)
