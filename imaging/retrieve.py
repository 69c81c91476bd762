"""Query/Retrieve, retrieving side: which instances a C-MOVE or C-GET asks for, and moving
them to a registered destination through the portal's own send jobs (PS3.4 C.4.2, C.4.3).

A C-MOVE becomes one send job per study (`SendJob.requested_by_ae` names who asked), with a
send item for exactly the instances asked for, even those the destination already has: the
requester asked for them. The job runs on the association's own thread, so the counts of
sub-operations stream to the requester as each instance goes; if the destination's
association slots are all taken, or an attempt fails and its retry is due soon, the job goes
through the queue like any send and the move follows its rows until it ends.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from pydicom import Dataset

from imaging import send
from imaging.models import (
    Destination,
    Instance,
    SendAttempt,
    SendItem,
    SendItemState,
    SendJob,
    SendState,
    StudyEvent,
)

logger = logging.getLogger(__name__)

# PS3.4 C.4.2.1.5 / C.4.3.1.4: the statuses of a retrieve's responses.
SUCCESS = 0x0000
PENDING = 0xFF00
CANCEL = 0xFE00
WARNING_SUBOPERATIONS = 0xB000  # sub-operations complete, one or more failures or warnings
UNABLE_TO_PERFORM_SUBOPERATIONS = 0xA702
MOVE_DESTINATION_UNKNOWN = 0xA801
IDENTIFIER_DOES_NOT_MATCH = 0xA900
UNABLE_TO_PROCESS = 0xC000
# PS3.4 B.2.3: C-STORE statuses that store the instance with a warning.
STORE_WARNINGS = {0xB000, 0xB006, 0xB007}

PATIENT_ROOT, STUDY_ROOT = "patient", "study"
LEVELS = ["PATIENT", "STUDY", "SERIES", "IMAGE"]
# PS3.4 C.6.1.1 / C.6.2.1: the unique key of each level, and the field it matches.
UNIQUE_KEYS = {
    "PATIENT": ("PatientID", "series__study__patient__patient_id"),
    "STUDY": ("StudyInstanceUID", "series__study__study_instance_uid"),
    "SERIES": ("SeriesInstanceUID", "series__series_instance_uid"),
    "IMAGE": ("SOPInstanceUID", "sop_instance_uid"),
}
# A move whose job waits for a retry further off than this ends now, with the reason: the
# requester (usually the destination itself) asks again when it is ready.
MOVE_RETRY_WAIT_SECONDS = 30
FOLLOW_EVERY_SECONDS = 0.25
# PS3.7 C.4.1.1.1: Number of ... Sub-operations are US.
MAX_SUBOPERATIONS = 0xFFFF


class RetrieveError(Exception):
    """The request cannot be served; `status` answers it and `str(e)` says why."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class RetrieveCounts:
    """Sub-operation counts of a retrieve (PS3.4 C.4.2.1.6) and the failed instances."""

    remaining: int = 0
    completed: int = 0
    failed: int = 0
    warning: int = 0
    failed_uids: list[str] = field(default_factory=list)


@dataclass
class MoveOutcome:
    status: int
    counts: RetrieveCounts
    error: str = ""


def retrieve_instances(*, identifier: Dataset, root: str) -> "QuerySet[Instance]":
    """The instances a C-MOVE or C-GET identifier names by its unique keys (PS3.4 C.4.2.2.1:
    a retrieve matches unique keys only; a list of UIDs is allowed at the level retrieved).
    A key of a level above it that is missing does not narrow the match."""
    level = str(identifier.get("QueryRetrieveLevel", "") or "").strip().upper()
    levels = LEVELS if root == PATIENT_ROOT else LEVELS[1:]
    if level not in levels:
        raise RetrieveError(
            f"Query/Retrieve Level {level or '(none)'} is not one of {', '.join(levels)}.",
            status=IDENTIFIER_DOES_NOT_MATCH,
        )
    instances = Instance.objects.all()
    for at in levels[: levels.index(level) + 1]:
        keyword, lookup = UNIQUE_KEYS[at]
        values = _values(identifier, keyword)
        if at == level and not values:
            raise RetrieveError(f"{keyword} is missing.", status=IDENTIFIER_DOES_NOT_MATCH)
        if values:
            instances = instances.filter(**{f"{lookup}__in": values})
    return instances.select_related("series__study").order_by(
        "series__study_id", "series__series_number", "series_id", "instance_number", "pk"
    )


def _values(identifier: Dataset, keyword: str) -> list[str]:
    value = identifier.get(keyword)
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)  # a list of UIDs: MultiValue
    return [str(v).strip() for v in items if str(v).strip()]


def move_destination_find(*, ae_title: str, address: str = "") -> Destination:
    """The active destination registered under `ae_title` (PS3.4 C.4.2.1.5: an unknown one is
    refused). When several share the title, the one at the requester's address wins."""
    candidates = list(Destination.objects.filter(ae_title=ae_title.strip(), active=True))
    if not candidates:
        switched_off = Destination.objects.filter(ae_title=ae_title.strip()).exists()
        raise RetrieveError(
            f"{ae_title} is switched off in the portal."
            if switched_off
            else f"{ae_title} is not a destination in the portal.",
            status=MOVE_DESTINATION_UNKNOWN,
        )
    host = address.rsplit(":", 1)[0]
    return next((d for d in candidates if d.host == host), candidates[0])


def move_jobs_create(
    *, instances: "QuerySet[Instance]", destination: Destination, requested_by_ae: str
) -> list[SendJob]:
    """One send job per study for exactly these instances, recorded before anything is sent;
    not queued: the move runs them (`move_run`)."""
    by_study: dict[int, list[int]] = {}
    for pk, study_id in instances.values_list("pk", "series__study_id"):
        by_study.setdefault(study_id, []).append(pk)
    jobs = []
    with transaction.atomic():
        for study_id, ids in by_study.items():
            job = SendJob.objects.create(
                study_id=study_id,
                destination=destination,
                instances_total=len(ids),
                requested_by_ae=requested_by_ae[:16],
            )
            SendItem.objects.bulk_create([SendItem(job=job, instance_id=pk) for pk in ids])
            StudyEvent.objects.create(
                study_id=study_id,
                kind="send",
                message=(
                    f"{requested_by_ae} asked (C-MOVE) for {len(ids)} instances to be sent to "
                    f"{destination.name}."
                ),
            )
            jobs.append(job)
    return jobs


def move_run(
    *,
    job_ids: list[int],
    report: Callable[[RetrieveCounts], None],
    cancelled: Callable[[], bool],
) -> MoveOutcome:
    """Run the move's jobs one after the other, calling `report` as counts change; stop when
    `cancelled()` says so. The final counts are read back from the send items."""
    total = SendItem.objects.filter(job_id__in=job_ids).count()
    stop = {"cancelled": False}

    def is_cancelled() -> bool:
        # pynetdicom forgets a C-CANCEL once it has been seen: remember it here.
        stop["cancelled"] = stop["cancelled"] or cancelled()
        return stop["cancelled"]

    for index, job_id in enumerate(job_ids):
        if is_cancelled():
            send.send_job_cancel(job_id=job_id)
            continue
        before = _counts(job_ids[:index], total=total)

        def watch(
            progress: "send._Progress", before: RetrieveCounts = before, job_id: int = job_id
        ) -> bool:
            if progress.handled:
                report(_live_counts(before, progress, total))
            if is_cancelled():
                send.send_job_cancel(job_id=job_id)
                return False
            return True

        send.send_job_run(job_id=job_id, watch=watch)
        _follow(job_id, job_ids=job_ids, total=total, report=report, is_cancelled=is_cancelled)
    return _outcome(job_ids, total=total, cancelled=stop["cancelled"])


def _live_counts(before: RetrieveCounts, progress: "send._Progress", total: int) -> RetrieveCounts:
    completed = before.completed + progress.sent_total - progress.warnings_total
    warning = before.warning + progress.warnings_total
    failed = before.failed + progress.handled - progress.sent_total
    return RetrieveCounts(
        remaining=total - completed - warning - failed,
        completed=completed,
        warning=warning,
        failed=failed,
    )


def _follow(
    job_id: int,
    *,
    job_ids: list[int],
    total: int,
    report: Callable[[RetrieveCounts], None],
    is_cancelled: Callable[[], bool],
) -> None:
    """Wait while the job runs elsewhere (a worker, a retry), reporting counts as they change."""
    last = None
    while True:
        job = SendJob.objects.filter(pk=job_id).values("state", "next_attempt_at").first()
        if job is None or job["state"] not in (SendState.QUEUED, SendState.SENDING):
            return
        if is_cancelled():
            send.send_job_cancel(job_id=job_id)
            return
        due = job["next_attempt_at"]
        if due and due > timezone.now() + timedelta(seconds=MOVE_RETRY_WAIT_SECONDS):
            _give_up(job_id)
            return
        counts = _counts(job_ids, total=total)
        if last is not None and counts != last:
            report(counts)
        last = counts
        time.sleep(FOLLOW_EVERY_SECONDS)


def _give_up(job_id: int) -> None:
    """End a move's job waiting for a distant retry, with the reason its last attempt gave."""
    attempt = SendAttempt.objects.filter(job_id=job_id).exclude(error="").last()
    SendJob.objects.filter(pk=job_id, state=SendState.QUEUED).update(
        state=SendState.FAILED,
        finished_at=timezone.now(),
        next_attempt_at=None,
        error=attempt.error if attempt else "The destination could not be reached.",
    )


def _counts(job_ids: list[int], *, total: int) -> RetrieveCounts:
    done = SendItem.objects.filter(job_id__in=job_ids).aggregate(
        completed=Count(
            "pk",
            filter=Q(state__in=[SendItemState.SENT, SendItemState.CONFIRMED])
            & ~Q(status__in=STORE_WARNINGS),
        ),
        warning=Count(
            "pk",
            filter=Q(state__in=[SendItemState.SENT, SendItemState.CONFIRMED])
            & Q(status__in=STORE_WARNINGS),
        ),
        failed=Count("pk", filter=Q(state=SendItemState.FAILED)),
    )
    return RetrieveCounts(
        remaining=total - done["completed"] - done["warning"] - done["failed"], **done
    )


def _outcome(job_ids: list[int], *, total: int, cancelled: bool) -> MoveOutcome:
    """The final answer: PS3.4 C.4.2.1.5 statuses, with the Failed SOP Instance UID List."""
    counts = _counts(job_ids, total=total)
    failed = SendItem.objects.filter(job_id__in=job_ids, state=SendItemState.FAILED)
    if not cancelled:
        # Whatever a failed or abandoned job did not send has failed too.
        failed = SendItem.objects.filter(job_id__in=job_ids).filter(
            state__in=[SendItemState.FAILED, SendItemState.PENDING]
        )
        counts.failed += counts.remaining
        counts.remaining = 0
    counts.failed_uids = list(failed.values_list("instance__sop_instance_uid", flat=True))
    errors = SendJob.objects.filter(pk__in=job_ids).exclude(error="")
    error = next((e for e in errors.values_list("error", flat=True) if e != "Cancelled."), "")
    if not error:
        error = next(iter(failed.exclude(error="").values_list("error", flat=True)), "")
    if cancelled:
        status = CANCEL
    elif not counts.failed and not counts.warning:
        status = SUCCESS
    elif not counts.completed and not counts.warning:
        status = UNABLE_TO_PERFORM_SUBOPERATIONS
    else:
        status = WARNING_SUBOPERATIONS
    return MoveOutcome(status=status, counts=counts, error=error)


def get_record(*, instances: list[Instance], requested_by_ae: str, address: str) -> None:
    """Note on each study's history what a C-GET took (the requester is not a destination, so
    there is no send job: the C-STOREs on its own association are the whole transfer)."""
    per_study: dict[int, int] = {}
    for instance in instances:
        per_study[instance.series.study_id] = per_study.get(instance.series.study_id, 0) + 1
    StudyEvent.objects.bulk_create(
        StudyEvent(
            study_id=study_id,
            kind="retrieve",
            message=f"{requested_by_ae} ({address}) retrieved {count} instances with C-GET.",
        )
        for study_id, count in per_study.items()
    )
