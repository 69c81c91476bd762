"""Background tasks of printing: thin wrappers that take primary keys and call services."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from printing import jobs


@shared_task(
    acks_late=True,
    soft_time_limit=600,
    time_limit=660,
    # Only an unreachable database is retried here; printer failures are recorded on the job.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def print_job_run_task(job_id: int) -> None:
    """Print a queued job. Safe to run twice: only one run claims the job."""
    jobs.print_job_run(job_id=job_id)
