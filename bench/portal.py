"""The portal under test: its own processes on free ports in a temporary data folder.

`migrate`, then `gunicorn clinic.wsgi` for the REST API, and per data set a fresh
`manage.py dicomlistener` (plus `celery -A clinic worker` when REDIS_URL is set), so each data
set's memory high-water mark is its own. The benchmark process reads the same database through
the ORM (same DATABASE_URL / PORTAL_DATA_DIR) to see when instances are indexed and thumbnails
rendered.
"""

from __future__ import annotations

import json
import secrets
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.data import DataSet
from bench.peers import wait_for_echo
from bench.processes import Process, Processes, free_port

AE_TITLE = "VETPORTAL"
BASE_DIR = Path(__file__).resolve().parent.parent


class Portal:
    """Migrated database, API token and web server; listeners and workers started on demand."""

    def __init__(self, procs: Processes, *, redis_url: str | None) -> None:
        self.procs = procs
        self.redis_url = redis_url
        self.http_port = free_port()
        self.token = ""
        self.web: Process | None = None

    def manage(self, *args: str) -> list[str]:
        return [sys.executable, str(BASE_DIR / "manage.py"), *args]

    def prepare(self) -> None:
        self.procs.run("migrate", self.manage("migrate", "--noinput"))
        self.token = _api_token()
        if self.redis_url:
            # Tasks left on the queue refer to another database's rows; the run starts empty.
            from clinic.celery import app

            if stale := app.control.purge():
                print(f"  emptied {stale} stale task(s) from the queue on REDIS_URL", flush=True)
        self.web = self.procs.start(
            "web",
            [sys.executable, "-m", "gunicorn", "clinic.wsgi", "-b", f"127.0.0.1:{self.http_port}",
             "--workers", "1", "--threads", "2"],
        )  # fmt: skip
        self.web.wait_for_port(self.http_port)

    def start_receivers(self, tag: str) -> tuple[Process, Process | None, int]:
        """A fresh listener (and worker with Redis); returns them and the DICOM port."""
        port = free_port()
        listener = self.procs.start(
            f"listener-{tag}",
            self.manage("dicomlistener", "--port", str(port), "--ae-title", AE_TITLE),
        )
        worker = None
        if self.redis_url:
            hostname = f"bench-{tag}-{port}@{socket.gethostname()}"
            worker = self.procs.start(
                f"worker-{tag}",
                [sys.executable, "-m", "celery", "-A", "clinic", "worker", "--loglevel", "INFO",
                 "--concurrency", "2", "--hostname", hostname],
            )  # fmt: skip
        wait_for_echo(listener, port, AE_TITLE)
        if worker:
            _wait_for_worker(worker, hostname, timeout=90)
        return listener, worker, port

    def api_study(self, study_uid: str, accession: str) -> dict | None:
        """The study as `GET /api/studies/?q=<accession>` shows it (None until it is listed)."""
        query = urllib.parse.urlencode({"q": accession})
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}/api/studies/?{query}",
            headers={"Authorization": f"Token {self.token}", "Accept": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            page = json.load(response)
        for study in page.get("results", page if isinstance(page, list) else []):
            if study.get("study_instance_uid") == study_uid:
                return study
        return None


def _api_token() -> str:
    """A technician with a REST token, as a script of the clinic would use."""
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token

    from clinic import roles

    roles.roles_sync()
    user = User.objects.create_user("bench-tech", password=secrets.token_urlsafe(16))
    user.groups.add(Group.objects.get(name=roles.TECHNICIAN))
    return Token.objects.create(user=user).key


def _wait_for_worker(process: Process, hostname: str, *, timeout: float) -> None:
    """Return once the Celery worker answers a ping over the broker."""
    from clinic.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise process.fail(f"exited with status {process.popen.returncode} during start-up")
        if app.control.ping(destination=[hostname], timeout=0.5):
            return
    raise process.fail(f"did not answer a ping within {timeout:.0f} s")


@dataclass
class Progress:
    """What the watcher saw, as wall-clock times (time.time())."""

    first_instance_at: float | None = None
    indexed_at: float | None = None
    first_thumbnail_at: float | None = None
    thumbnails_done_at: float | None = None
    thumbnails_failed: int = 0
    listener_rss_early_kib: int = 0  # listener RSS once a tenth of the instances is indexed
    error: str = ""


class StudyWatcher(threading.Thread):
    """Polls the database for one study: instances indexed, thumbnails rendered."""

    def __init__(self, dataset: DataSet, listener: Process, *, interval: float = 0.05) -> None:
        super().__init__(name=f"watch-{dataset.name}", daemon=True)
        self.dataset = dataset
        self.listener = listener
        self.interval = interval
        self.progress = Progress()
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(10)

    def run(self) -> None:
        from django.db import connection

        try:
            while not self._stop_event.is_set():
                if self._poll(time.time()):
                    return
                self._stop_event.wait(self.interval)
        except Exception as exc:  # reported in the table rather than lost on a thread
            self.progress.error = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()

    def _poll(self, now: float) -> bool:
        """One look at the database; True once everything has been seen."""
        from django.db.models import Min

        from imaging.models import Instance, Series, ThumbnailState

        progress, expected = self.progress, self.dataset.instances
        instances = Instance.objects.filter(
            series__study__study_instance_uid=self.dataset.study_uid
        )
        series = Series.objects.filter(study__study_instance_uid=self.dataset.study_uid)
        if progress.indexed_at is None:
            count = instances.count()
            if count and progress.first_instance_at is None:
                first = instances.aggregate(first=Min("received_at"))["first"]
                progress.first_instance_at = first.timestamp() if first else now
            if count >= max(1, expected // 10) and not progress.listener_rss_early_kib:
                progress.listener_rss_early_kib = self.listener.memory_kib("VmRSS")
            if count >= expected:
                progress.indexed_at = now
        if progress.first_thumbnail_at is None and (
            instances.filter(thumbnail_state=ThumbnailState.DONE).exists()
            or series.exclude(thumbnail_key="").exists()
        ):
            progress.first_thumbnail_at = now
        if progress.indexed_at is not None and progress.thumbnails_done_at is None:
            pending = instances.filter(thumbnail_state=ThumbnailState.PENDING).exists()
            if not pending and not series.filter(thumbnail_key="").exists():
                progress.thumbnails_done_at = now
                progress.thumbnails_failed = instances.filter(
                    thumbnail_state=ThumbnailState.FAILED
                ).count()
        return progress.thumbnails_done_at is not None


def study_status_from_database(study_uid: str) -> str:
    from django.db import connection

    from imaging.models import Study

    try:
        return (
            Study.objects.filter(study_instance_uid=study_uid)
            .values_list("status", flat=True)
            .first()
            or ""
        )
    finally:
        connection.close()


def wait_until_complete(
    portal: Portal, dataset: DataSet, *, released_at: float, timeout: float
) -> tuple[float | None, str]:
    """Seconds from release until the study shows complete, and where that was read.

    From the REST API; if the API cannot answer, from the same row through the ORM (and the
    report says so).
    """
    deadline = released_at + timeout
    source = "REST API"
    while time.time() < deadline:
        status = None
        if source == "REST API":
            try:
                study = portal.api_study(dataset.study_uid, dataset.accession)
                status = study.get("status") if study else None
            except (OSError, ValueError) as exc:  # HTTP errors, refused connections, bad JSON
                source = f"database (the API failed: {exc})"
        if source != "REST API":
            status = study_status_from_database(dataset.study_uid)
        if status == "complete":
            return time.time() - released_at, source
        time.sleep(0.01)
    return None, source
