"""`python manage.py send_study STUDY_UID --to NAME [--series UID ...] [--wait]`."""

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from clinic.queue import wait_for_local_tasks
from imaging import receipts, send
from imaging.models import Destination, SendItemState, SendJob, SendState, Study


class Command(BaseCommand):
    help = "Send a study (or some of its series) to a destination, through the same queue as the pages."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("study_uid", metavar="STUDY_INSTANCE_UID")
        parser.add_argument("--to", required=True, metavar="NAME", help="destination name")
        parser.add_argument("--series", nargs="+", metavar="UID", help="only these series")
        parser.add_argument("--everything", action="store_true", help="also what was confirmed")
        parser.add_argument("--wait", action="store_true", help="print progress until it ends")
        parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait")

    def handle(self, *args, study_uid, to, series, everything, wait, timeout, **options) -> None:
        study = Study.objects.filter(study_instance_uid=study_uid).first()
        if study is None:
            raise CommandError(f"no study with Study Instance UID {study_uid}")
        destination = Destination.objects.filter(name=to).first()
        if destination is None:
            raise CommandError(f"no destination named {to!r}")
        try:
            job = send.send_job_create(
                study=study, destination=destination, series_uids=series, everything=everything
            )
        except send.SendError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"send job {job.pk}: {job.instances_total} instances queued")
        if wait:
            self._wait(job, timeout)

    def _wait(self, job: SendJob, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            # Embedded mode runs the send on this process's worker thread: let it progress.
            wait_for_local_tasks(0.5)
            job.refresh_from_db()
            counts = receipts.item_counts(job)
            done = counts[SendItemState.SENT] + counts[SendItemState.CONFIRMED]
            line = (
                f"{job.get_state_display()}: sent {done}/{job.instances_total}, confirmed "
                f"{counts[SendItemState.CONFIRMED]}/{job.instances_total}, "
                f"{job.mb_per_second:.1f} MB/s"
            )
            if line != last:
                self.stdout.write(line)
                last = line
            if job.finished:
                break
            if time.monotonic() > deadline:
                raise CommandError(f"still {job.get_state_display().lower()} after {timeout:.0f} s")
            time.sleep(0.2)
        if job.error:
            self.stdout.write(job.error)
        ok = job.state == SendState.CONFIRMED or (
            job.state == SendState.SENT and not job.destination.confirms
        )
        if not ok:
            raise CommandError(f"send job {job.pk} ended {job.get_state_display().lower()}")
