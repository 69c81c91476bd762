"""Receipt confirmation for sends: storage commitment and C-FIND checks, and the state a
user sees once the destination has (or has not) confirmed what it holds.
"""

import logging

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Count
from django.utils import timezone
from pydicom import Dataset
from pydicom.uid import generate_uid
from pynetdicom.association import Association

from clinic import queue
from imaging import send_transforms
from imaging.dicom import scu
from imaging.models import SendItem, SendItemState, SendJob, SendState

logger = logging.getLogger(__name__)


# How long the worker keeps the association open after its N-ACTION for a report on it
# (destinations that report on a new association, like Orthanc, are not waited for longer).
SAME_ASSOCIATION_WAIT_SECONDS = 1.0


NO_COMMITMENT_IN_TIME = "No storage commitment came back from the destination in time."


class SendCheckError(ValueError):
    """What arrived at a destination cannot be checked; `str(e)` says why."""


def commitment_timeout_seconds() -> float:
    return float(settings.SEND_COMMITMENT_TIMEOUT_SECONDS)


def commitment_request(*, job: SendJob, assoc: Association) -> None:
    """Ask the destination to commit every instance of the job sent but not yet confirmed.

    The Transaction UID is saved before the request goes out, so a report arriving at once
    (on this or another association) finds its job.
    """
    transaction_uid = generate_uid()
    SendJob.objects.filter(pk=job.pk).update(
        transaction_uid=transaction_uid, commitment_requested_at=timezone.now()
    )
    transform = send_transforms.send_transform_for(job.transform)
    references = [
        (sop_class, transform.uid(sop_instance) if transform else sop_instance)
        for sop_class, sop_instance in job.items.filter(state=SendItemState.SENT).values_list(
            "instance__sop_class_uid", "instance__sop_instance_uid"
        )
    ]
    scu.commitment_request(
        assoc,
        transaction_uid=transaction_uid,
        references=references,
        wait_for_report=SAME_ASSOCIATION_WAIT_SECONDS,
    )
    verification_request(job_id=job.pk, countdown=commitment_timeout_seconds())


def report_received_on_send_association(info: Dataset) -> None:
    """A report the destination sent on the association the worker opened; it runs on
    pynetdicom's thread, whose database connection is closed afterwards."""
    try:
        report_received(info)
    finally:
        connections.close_all()


def report_received(info: Dataset) -> None:
    """A Storage Commitment N-EVENT-REPORT's Event Information (PS3.4 J.3.3)."""
    committed = [
        str(item.ReferencedSOPInstanceUID) for item in info.get("ReferencedSOPSequence", [])
    ]
    failed = {
        str(item.ReferencedSOPInstanceUID): int(item.get("FailureReason", 0x0110))
        for item in info.get("FailedSOPSequence", [])
    }
    commitment_report_record(
        transaction_uid=str(info.get("TransactionUID", "")), committed=committed, failed=failed
    )


def commitment_report_record(
    *, transaction_uid: str, committed: list[str], failed: dict[str, int]
) -> SendJob | None:
    """Mark each instance committed or failed, matched by Transaction UID."""
    job = (
        SendJob.objects.filter(transaction_uid=transaction_uid).first() if transaction_uid else None
    )
    if job is None:
        logger.warning("storage commitment report for unknown transaction %r", transaction_uid)
        return None
    here = _uids_here(job, send_transforms.send_transform_for(job.transform))
    committed = [here.get(sop_uid, sop_uid) for sop_uid in committed]
    failed = {here.get(sop_uid, sop_uid): reason for sop_uid, reason in failed.items()}
    now = timezone.now()
    with transaction.atomic():
        job.items.filter(instance__sop_instance_uid__in=committed).update(
            state=SendItemState.CONFIRMED, confirmed_at=now, error=""
        )
        for sop_uid, reason in failed.items():
            job.items.filter(instance__sop_instance_uid=sop_uid).update(
                state=SendItemState.FAILED,
                status=reason,
                error=f"The destination could not keep this instance (reason 0x{reason:04X}).",
            )
    send_job_settle(job_id=job.pk)
    logger.info(
        "commitment for job %s: %d committed, %d failed", job.pk, len(committed), len(failed)
    )
    return job


def _uids_here(job: SendJob, transform: send_transforms.SendTransform | None) -> dict[str, str]:
    """For a job that changed UIDs on the way out: the destination's instance UID → ours."""
    if transform is None:
        return {}
    ours = job.items.values_list("instance__sop_instance_uid", flat=True)
    return {transform.uid(sop_uid): sop_uid for sop_uid in ours}


def item_counts(job: SendJob) -> dict[str, int]:
    counts = dict(job.items.values_list("state").annotate(n=Count("pk")).order_by())
    return {state: counts.get(state, 0) for state in SendItemState.values}


def send_job_settle(*, job_id: int) -> None:
    """Set a job that finished sending to what its items say: confirmed, partial, failed or
    still sent-and-waiting. A running, queued or cancelled job is left alone."""
    with transaction.atomic():
        job = SendJob.objects.select_for_update().select_related("destination").get(pk=job_id)
        if job.state not in (
            SendState.SENT,
            SendState.PARTIAL,
            SendState.CONFIRMED,
            SendState.FAILED,
        ):
            return
        counts = item_counts(job)
        pending, sent = counts[SendItemState.PENDING], counts[SendItemState.SENT]
        confirmed, failed = counts[SendItemState.CONFIRMED], counts[SendItemState.FAILED]
        if pending:
            return
        waiting = job.destination.confirms and sent
        if not failed and not waiting and (confirmed or not job.destination.confirms):
            state = SendState.CONFIRMED if job.destination.confirms else SendState.SENT
        elif waiting and not failed:
            state = SendState.SENT
        elif confirmed or sent:
            state = SendState.PARTIAL
        else:
            state = SendState.FAILED
        job.state = state
        if state == SendState.CONFIRMED:
            job.error = ""  # e.g. a late commitment report after "none came back in time"
        if state != SendState.SENT or not job.destination.confirms:
            job.finished_at = job.finished_at or timezone.now()
        if state == SendState.PARTIAL and job.error in ("", NO_COMMITMENT_IN_TIME):
            # A late report replaces "none came back in time" with what it says is missing.
            done = [SendItemState.CONFIRMED]
            if not job.destination.confirms:
                done.append(SendItemState.SENT)
            missing = job.items.exclude(state__in=done)
            names = sorted(
                {str(s) for s in missing.values_list("instance__series__description", flat=True)}
            )
            label = "Not confirmed" if job.destination.confirms else "Not sent"
            job.error = f"{label}: {', '.join(n or 'unnamed series' for n in names)}."
        if state == SendState.FAILED and not job.error:
            job.error = "No instance was accepted by the destination."
        job.save(update_fields=["state", "finished_at", "error"])


def verification_request(*, job_id: int, countdown: float) -> None:
    from imaging import tasks  # tasks wrap this module: import at call time

    queue.enqueue(tasks.send_job_verify_task, job_id, countdown=countdown)


def send_job_verify(*, job_id: int, recheck: bool = False) -> None:
    """When no commitment came back (or the destination offers none), ask it by C-FIND which
    instances it holds. Without Query/Retrieve the job stays "sent, unconfirmed".

    `recheck` checks a finished job again, confirmed instances included (a destination can
    lose what it once confirmed); what is missing can then be resent with `send_job_resume`.
    """
    job = SendJob.objects.select_related("destination", "study").filter(pk=job_id).first()
    if job is None:
        return
    if recheck and job.state in (SendState.CONFIRMED, SendState.PARTIAL, SendState.SENT):
        if not job.destination.query_retrieve:
            raise SendCheckError(f"{job.destination.name} does not answer queries (C-FIND).")
        with transaction.atomic():
            job.items.filter(state=SendItemState.CONFIRMED).update(state=SendItemState.SENT)
            SendJob.objects.filter(pk=job.pk).update(state=SendState.SENT, error="")
        job.refresh_from_db()
    if job.state != SendState.SENT:
        return
    waiting = job.items.filter(state=SendItemState.SENT)
    if not waiting.exists():
        return
    if not job.destination.query_retrieve:
        SendJob.objects.filter(pk=job.pk, state=SendState.SENT).update(
            error=NO_COMMITMENT_IN_TIME,
            finished_at=timezone.now(),
        )
        return
    # The destination knows the UIDs as they were sent (changed by an anonymizing transform).
    transform = send_transforms.send_transform_for(job.transform)
    there = transform.uid if transform is not None else str
    series_uids = sorted(
        {
            there(uid)
            for uid in waiting.values_list("instance__series__series_instance_uid", flat=True)
        }
    )
    try:
        found = scu.find_instance_uids(
            job.destination.peer(),
            study_uid=there(job.study.study_instance_uid),
            series_uids=series_uids,
        )
    except scu.TransportError as exc:
        SendJob.objects.filter(pk=job.pk).update(error=f"Could not check what arrived: {exc}")
        return
    here = _uids_here(job, transform)
    found = {here.get(sop_uid, sop_uid) for sop_uid in found}
    now = timezone.now()
    with transaction.atomic():
        waiting.filter(instance__sop_instance_uid__in=found).update(
            state=SendItemState.CONFIRMED, confirmed_at=now
        )
        SendItem.objects.filter(job=job, state=SendItemState.SENT).update(
            state=SendItemState.FAILED, error="Not found at the destination when checked."
        )
    send_job_settle(job_id=job.pk)


def send_job_progress(job: SendJob) -> dict:
    """What a person watching a send needs: counts, speed, and each series' state."""
    counts = item_counts(job)
    rows = (
        job.items.values(
            "instance__series_id",
            "instance__series__series_instance_uid",
            "instance__series__description",
            "instance__series__series_number",
            "state",
        )
        .annotate(n=Count("pk"))
        .order_by("instance__series__series_number")
    )
    series: dict[int, dict] = {}
    for row in rows:
        entry = series.setdefault(
            row["instance__series_id"],
            {
                "series_instance_uid": row["instance__series__series_instance_uid"],
                "description": row["instance__series__description"],
                "number": row["instance__series__series_number"],
                "total": 0,
                **{state: 0 for state in SendItemState.values},
            },
        )
        entry[row["state"]] += row["n"]
        entry["total"] += row["n"]
    for entry in series.values():
        entry["state"] = _series_state(entry)
    sent = counts[SendItemState.SENT] + counts[SendItemState.CONFIRMED]
    return {
        "state": job.state,
        "state_display": job.get_state_display(),
        "total": job.instances_total,
        "sent": sent,
        "confirmed": counts[SendItemState.CONFIRMED],
        "failed": counts[SendItemState.FAILED],
        "mb_per_second": round(job.mb_per_second, 2),
        "error": job.error,
        "finished": job.finished,
        "series": list(series.values()),
    }


def _series_state(entry: dict) -> str:
    if entry[SendItemState.CONFIRMED] == entry["total"]:
        return "confirmed"
    if entry[SendItemState.FAILED]:
        return "failed" if not entry[SendItemState.CONFIRMED] else "partial"
    if entry[SendItemState.PENDING]:
        return "pending"
    return "sent"
