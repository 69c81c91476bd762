"""Sending studies to destinations: creating, running, cancelling and resuming send jobs.

A job lists every instance it sends (`SendItem`), so progress, resuming and "send only what
the destination has not confirmed" all read the same rows. The worker records before it acts:
the job is "sending" and an attempt row exists before the association opens.
"""

import logging
import time
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from pydicom import Dataset, dcmread
from pynetdicom.sop_class import StorageCommitmentPushModel

from clinic import queue
from imaging import receipts, send_transforms, storage
from imaging.dicom import scu, store
from imaging.models import (
    Destination,
    Instance,
    SendAttempt,
    SendItem,
    SendItemState,
    SendJob,
    SendState,
    Study,
    StudyEvent,
)

logger = logging.getLogger(__name__)

# C-STORE statuses that mean "stored" (PS3.4 B.2.3: warnings still store the instance).
STORED = {0x0000, 0xB000, 0xB006, 0xB007}
# How often the worker writes progress (and notices a cancellation).
PROGRESS_EVERY_SECONDS = 0.5


class SendError(ValueError):
    """A send cannot be created or changed as asked; `str(e)` says why."""


def _queue_run(job_id: int, countdown: float | None = None) -> None:
    from imaging import tasks  # tasks wrap this module: import at call time

    queue.enqueue(tasks.send_job_run_task, job_id, countdown=countdown)


def send_job_create(
    *,
    study: Study,
    destination: Destination,
    series_uids: Iterable[str] | None = None,
    instances: QuerySet[Instance] | None = None,
    everything: bool = False,
    transform: str = "",
    user=None,
) -> SendJob:
    """Queue a send of the study (or the chosen series, or the chosen `instances` of it) to the
    destination, each instance changed on the way by `transform` when one is named.

    Unless `everything`, instances the destination already confirmed (or, for one that cannot
    confirm, was sent) and instances already in a running send there are left out.
    """
    if not destination.active:
        raise SendError(f"{destination.name} is switched off.")
    if transform:
        try:
            send_transforms.send_transform_for(transform)
        except send_transforms.UnknownTransform as exc:
            raise SendError(str(exc)) from exc
    if instances is None:
        instances = Instance.objects.all()
    instances = instances.filter(series__study=study)
    if series_uids:
        wanted = set(series_uids)
        known = set(
            study.series.filter(series_instance_uid__in=wanted).values_list(
                "series_instance_uid", flat=True
            )
        )
        if unknown := wanted - known:
            raise SendError(f"Not series of this study: {', '.join(sorted(unknown))}.")
        instances = instances.filter(series__series_instance_uid__in=wanted)
    if not everything:
        instances = instances.exclude(pk__in=_held_by(destination, study))
    ids = list(instances.values_list("pk", flat=True))
    if not ids:
        raise SendError(f"{destination.name} already has everything chosen; nothing to send.")
    with transaction.atomic():
        job = SendJob.objects.create(
            study=study,
            destination=destination,
            created_by=user,
            instances_total=len(ids),
            transform=transform,
        )
        SendItem.objects.bulk_create([SendItem(job=job, instance_id=pk) for pk in ids])
        StudyEvent.objects.create(
            study=study,
            kind="send",
            message=f"Send of {len(ids)} instances to {destination.name} queued.",
            user=user,
        )
        _queue_run(job.pk)
    return job


def _held_by(destination: Destination, study: Study):
    """Instances of the study the destination has (as far as the portal knows) or is getting."""
    done = (
        [SendItemState.CONFIRMED]
        if destination.confirms
        else [SendItemState.CONFIRMED, SendItemState.SENT]
    )
    return SendItem.objects.filter(
        Q(state__in=done) | Q(job__state__in=[SendState.QUEUED, SendState.SENDING]),
        job__destination=destination,
        instance__series__study=study,
    ).values("instance_id")


def send_job_cancel(*, job_id: int, user=None) -> bool:
    """Stop a queued or running send; a running worker stops after the instance in hand."""
    changed = SendJob.objects.filter(
        pk=job_id, state__in=[SendState.QUEUED, SendState.SENDING]
    ).update(state=SendState.CANCELLED, finished_at=timezone.now(), error="Cancelled.")
    return bool(changed)


def send_job_resume(*, job_id: int, user=None) -> SendJob:
    """Send again what a failed, partial or cancelled job did not get confirmed (only that)."""
    with transaction.atomic():
        job = SendJob.objects.select_for_update().select_related("destination").get(pk=job_id)
        if not job.finished and job.state != SendState.SENT:
            raise SendError("This send is still running.")
        keep = [SendItemState.CONFIRMED]
        if not job.destination.confirms:
            keep.append(SendItemState.SENT)
        reset = job.items.exclude(state__in=keep).update(
            state=SendItemState.PENDING, status=None, error=""
        )
        if not reset:
            raise SendError("Every instance of this send is already confirmed.")
        job.state = SendState.QUEUED
        job.attempts = 0
        job.error = ""
        job.next_attempt_at = None
        job.finished_at = None
        job.transaction_uid = ""
        job.save()
        _queue_run(job.pk)
    return job


def send_job_run(*, job_id: int, watch: "Callable[[_Progress], bool] | None" = None) -> None:
    """Worker side: claim the job, send what is pending, then ask for confirmation.

    Safe to run twice or concurrently: only one run claims the job. `watch`, if given, is
    called before each instance (a C-MOVE streams its counts from it); False cancels the job.
    """
    job = _claim(job_id)
    if job is None:
        return
    attempt = SendAttempt.objects.create(job=job, number=job.attempts_made.count() + 1)
    try:
        sent_any = _send_pending(job, attempt, watch)
    except scu.TransportError as exc:
        _attempt_failed(job, attempt, exc)
        return
    attempt.finished_at = attempt.finished_at or timezone.now()
    attempt.save(update_fields=["finished_at", "instances_sent", "bytes_sent"])
    with transaction.atomic():  # readers see the settled state, never a passing "sent"
        done = SendJob.objects.filter(pk=job.pk, state=SendState.SENDING).update(
            state=SendState.SENT, heartbeat_at=None, error=""
        )
        if done:
            receipts.send_job_settle(job_id=job.pk)
    if done:
        if sent_any and job.destination.query_retrieve and not job.destination.storage_commitment:
            receipts.verification_request(job_id=job.pk, countdown=1.0)


def _claim(job_id: int) -> SendJob | None:
    """Take the job if it is due and its destination has a free slot (counted in the database,
    so the limit holds across workers)."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.SEND_STALE_SECONDS)
    with transaction.atomic():
        job = SendJob.objects.filter(pk=job_id).select_related("destination").first()
        if job is None:
            return None
        # Locking the destination row serializes slot claims for it between workers.
        destination = Destination.objects.select_for_update().get(pk=job.destination_id)
        claimable = Q(state=SendState.QUEUED) & (
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
        )
        # A job left "sending" by a worker that died (acks_late redelivers its task).
        claimable |= Q(state=SendState.SENDING, heartbeat_at__lt=stale)
        if not SendJob.objects.filter(claimable, pk=job_id).exists():
            return None
        busy = (
            SendJob.objects.filter(destination=destination, state=SendState.SENDING)
            .filter(heartbeat_at__gte=stale)
            .exclude(pk=job_id)
            .count()
        )
        if busy >= destination.max_associations:
            _queue_run(job_id, countdown=settings.SEND_SLOT_WAIT_SECONDS)
            return None
        claimed = SendJob.objects.filter(claimable, pk=job_id).update(
            state=SendState.SENDING,
            attempts=F("attempts") + 1,
            started_at=now,
            heartbeat_at=now,
            next_attempt_at=None,
        )
    if not claimed:
        return None
    job.refresh_from_db()
    return job


def _send_pending(
    job: SendJob, attempt: SendAttempt, watch: "Callable[[_Progress], bool] | None" = None
) -> bool:
    """Send every pending item over one association; False when there was nothing to send."""
    items = list(job.items.filter(state=SendItemState.PENDING).select_related("instance"))
    destination = job.destination
    if not items:
        return False
    pairs = {(i.instance.sop_class_uid, i.instance.transfer_syntax_uid) for i in items}
    contexts = store.store_contexts(pairs, destination.preferred_transfer_syntax)
    if destination.storage_commitment:
        contexts.insert(0, (StorageCommitmentPushModel, scu.UNCOMPRESSED))
    progress = _Progress(job, attempt, watch, total=len(items))
    peer = destination.peer()
    try:
        transform = send_transforms.send_transform_for(job.transform)
    except send_transforms.UnknownTransform as exc:
        raise scu.TransportError(str(exc), permanent=True) from exc
    with scu.association(
        peer, contexts, on_commitment_report=receipts.report_received_on_send_association
    ) as assoc:
        try:
            with store.Sender(
                assoc, peer, preferred=destination.preferred_transfer_syntax
            ) as sender:
                for item in items:
                    if not progress.flush_if_due():
                        return False  # cancelled: stop after the instance in hand
                    _send_item(sender, item, progress, transform)
        except scu.TransportError:
            progress.flush()  # what the destination acknowledged stays acknowledged
            raise
        progress.flush()
        attempt.finished_at = timezone.now()  # sending ends here; confirmation is apart
        if destination.storage_commitment and progress.sent_total:
            receipts.commitment_request(job=job, assoc=assoc)
    return True


def _send_item(
    sender: store.Sender,
    item: SendItem,
    progress: "_Progress",
    transform: send_transforms.SendTransform | None = None,
) -> None:
    """C-STORE one item and note its status (an instance that alone cannot go fails alone)."""
    instance = item.instance

    def read() -> Dataset:
        with storage.instance_open(instance.storage_key) as handle:
            ds = dcmread(handle)
        return transform.dataset(ds) if transform is not None else ds

    started = time.monotonic()
    try:
        result = sender.store(
            # A changed instance is sent from its data set, never from the file as stored.
            path=None if transform is not None else storage.local_path(instance.storage_key),
            read=read,
            sop_class=instance.sop_class_uid,
            sop_instance=(
                transform.uid(instance.sop_instance_uid)
                if transform is not None
                else instance.sop_instance_uid
            ),
            syntax=instance.transfer_syntax_uid,
        )
    except scu.InstanceRefused as exc:
        # This instance cannot go (e.g. its SOP class was not accepted); the rest can.
        SendItem.objects.filter(pk=item.pk).update(state=SendItemState.FAILED, error=str(exc)[:255])
        return False
    progress.seconds += time.monotonic() - started
    _record_status(item, result.status, progress)
    return True


def _record_status(item: SendItem, status: int, progress: "_Progress") -> None:
    if status in STORED:
        progress.stored(item, status)
        return
    if 0xA700 <= status <= 0xA7FF:
        # PS3.4 B.2.3: out of resources; the rest would fail too, so try again later.
        progress.flush()
        raise scu.TransportError(
            f"The destination is out of resources (status 0x{status:04X}): its disk may be full.",
            permanent=False,
        )
    if status == 0x0122:
        error = "The destination does not store this kind of image (SOP class not supported)."
    else:
        error = f"The destination refused this instance (status 0x{status:04X})."
    SendItem.objects.filter(pk=item.pk).update(
        state=SendItemState.FAILED, status=status, error=error
    )


class _Progress:
    """Counts what went out and writes it to the database at most every half second."""

    def __init__(
        self,
        job: SendJob,
        attempt: SendAttempt,
        watch: "Callable[[_Progress], bool] | None" = None,
        *,
        total: int = 0,
    ) -> None:
        self.job, self.attempt = job, attempt
        self.seconds = 0.0
        self.sent_total = 0
        # For a watcher: instances of this attempt, those handled so far, stored with a warning.
        self.total, self.handled, self.warnings_total = total, 0, 0
        self._watch = watch
        self._stored: list[tuple[int, int]] = []
        self._bytes = 0
        self._last = time.monotonic()

    def stored(self, item: SendItem, status: int) -> None:
        self._stored.append((item.pk, status))
        self._bytes += item.instance.size_bytes
        self.sent_total += 1
        self.warnings_total += status != 0x0000

    def flush_if_due(self) -> bool:
        """Called before each instance: write progress when due; False once cancelled."""
        if self._watch is not None:
            watching = self._watch(self)
            self.handled += 1
            if not watching:
                return self.flush()  # the watcher cancelled the job: flush notices it
        if time.monotonic() - self._last < PROGRESS_EVERY_SECONDS:
            return True
        return self.flush()

    def flush(self) -> bool:
        """Write progress; False when the job was cancelled meanwhile."""
        now = timezone.now()
        with transaction.atomic():
            for status in {s for _, s in self._stored}:
                SendItem.objects.filter(
                    pk__in=[pk for pk, s in self._stored if s == status]
                ).update(state=SendItemState.SENT, status=status, sent_at=now)
            running = SendJob.objects.filter(pk=self.job.pk, state=SendState.SENDING).update(
                heartbeat_at=now,
                bytes_sent=F("bytes_sent") + self._bytes,
                seconds_sending=F("seconds_sending") + self.seconds,
            )
            SendAttempt.objects.filter(pk=self.attempt.pk).update(
                instances_sent=F("instances_sent") + len(self._stored),
                bytes_sent=F("bytes_sent") + self._bytes,
            )
        self.attempt.instances_sent += len(self._stored)
        self.attempt.bytes_sent += self._bytes
        self._stored, self._bytes, self.seconds = [], 0, 0.0
        self._last = time.monotonic()
        return bool(running)


def _attempt_failed(job: SendJob, attempt: SendAttempt, exc: scu.TransportError) -> None:
    """Record the error; retry later with exponential backoff, or fail at once if permanent."""
    now = timezone.now()
    attempt.error, attempt.permanent, attempt.finished_at = str(exc), exc.permanent, now
    attempt.save(update_fields=["error", "permanent", "finished_at"])
    max_attempts = settings.SEND_MAX_ATTEMPTS
    if exc.permanent or job.attempts >= max_attempts:
        SendJob.objects.filter(pk=job.pk, state=SendState.SENDING).update(
            state=SendState.FAILED, error=str(exc), finished_at=now, heartbeat_at=None
        )
        logger.warning("send job %s failed: %s", job.pk, exc)
        return
    base = settings.SEND_RETRY_BASE_SECONDS
    delay = min(base * 2 ** (job.attempts - 1), settings.SEND_RETRY_MAX_SECONDS)
    if SendJob.objects.filter(pk=job.pk, state=SendState.SENDING).update(
        state=SendState.QUEUED,
        error=f"{exc} Trying again in {delay:.0f} s.",
        next_attempt_at=now + timedelta(seconds=delay),
        heartbeat_at=None,
    ):
        _queue_run(job.pk, countdown=delay)


def send_jobs_requeue_due() -> int:
    """Periodic: queue jobs due for a retry and jobs whose worker vanished mid-send, and check
    jobs still waiting for a confirmation long after it was due (their check task was lost,
    e.g. with a restart): they are settled by C-FIND, or end "sent, unconfirmed"."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.SEND_STALE_SECONDS)
    due = SendJob.objects.filter(
        Q(state=SendState.QUEUED, next_attempt_at__lte=now)
        | Q(
            state=SendState.QUEUED,
            next_attempt_at__isnull=True,
            created_at__lt=stale,
        )
        | Q(state=SendState.SENDING, heartbeat_at__lt=stale)
    ).values_list("pk", flat=True)
    ids = list(due)
    for job_id in ids:
        _queue_run(job_id)
    overdue = stale - timedelta(seconds=settings.SEND_COMMITMENT_TIMEOUT_SECONDS)
    unconfirmed = list(
        SendJob.objects.filter(state=SendState.SENT, finished_at__isnull=True)
        .filter(
            Q(commitment_requested_at__lt=overdue)
            | Q(commitment_requested_at__isnull=True, started_at__lt=overdue)
        )
        .values_list("pk", flat=True)
    )
    for job_id in unconfirmed:
        receipts.verification_request(job_id=job_id, countdown=0)
    return len(ids) + len(unconfirmed)
