"""Background tasks of the imaging app: thin wrappers that take primary keys and call services."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError

from imaging import associations, ingest, receipts, routing, send, thumbnails


@shared_task(
    acks_late=True,
    soft_time_limit=240,
    time_limit=300,
    # A database that is briefly unreachable is worth another try; bad files are not (they
    # become placeholders inside the service).
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def render_series_thumbnails(series_id: int) -> None:
    """Render the pending thumbnails of a series. Safe to run twice: done ones are skipped."""
    try:
        thumbnails.series_thumbnails_render(series_id=series_id)
    except SoftTimeLimitExceeded:
        # What is done is saved; queue a fresh run for what is left.
        thumbnails.series_thumbnails_request(series_id=series_id)


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def requeue_stalled_thumbnails() -> int:
    """Periodic: queue again series whose thumbnails stayed pending too long."""
    return thumbnails.series_thumbnails_requeue_stalled()


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def complete_idle_studies() -> int:
    """Studies whose sender vanished without releasing its association are complete after a while."""
    return ingest.studies_complete_idle()


@shared_task(
    acks_late=True,
    soft_time_limit=3600,
    time_limit=3660,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def send_job_run_task(job_id: int) -> None:
    """Send what a job has pending. Safe to run twice: only one run claims the job, and a
    run killed mid-send leaves it to be claimed again once its heartbeat is stale."""
    send.send_job_run(job_id=job_id)


@shared_task(acks_late=True, soft_time_limit=300, time_limit=360)
def send_job_verify_task(job_id: int) -> None:
    """Check by C-FIND what a destination holds when no commitment came back."""
    receipts.send_job_verify(job_id=job_id)


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def requeue_due_sends() -> int:
    """Periodic: queue sends due for a retry and sends whose worker vanished."""
    return send.send_jobs_requeue_due()


@shared_task(acks_late=True, soft_time_limit=120, time_limit=180)
def route_quiet_studies() -> int:
    """Periodic: auto-routing rules send complete, quiet studies on."""
    return routing.studies_route()


@shared_task(acks_late=True, soft_time_limit=300, time_limit=360)
def purge_association_log() -> int:
    """Periodic: forget associations older than ASSOCIATION_LOG_DAYS."""
    return associations.association_records_purge()
