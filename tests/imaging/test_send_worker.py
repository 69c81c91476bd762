"""Real Celery workers on Redis run sends: one killed mid-send leaves its send resumable, and
two together keep to a destination's limit of simultaneous sends."""

import signal
import threading
import time
from itertools import pairwise

import pytest
from pynetdicom import AE, evt
from pynetdicom.presentation import AllStoragePresentationContexts

from bench.processes import free_port
from imaging import send
from imaging.models import SendItemState, SendJob, SendState
from tests.imaging.test_celery_worker import (
    celery_worker,  # noqa: F401 (fixture)
    start_worker,
    worker_env,
)
from tests.send_peers import destination_for, portal_study, pynetdicom_scp, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _finished(job: SendJob) -> SendJob | None:
    job.refresh_from_db()
    return job if job.finished else None


def test_a_worker_sends_a_study(celery_worker):  # noqa: F811
    worker, log_path = celery_worker
    study = portal_study(series=2, per_series=2)
    with pynetdicom_scp() as (port, received):
        job = send.send_job_create(
            study=study, destination=destination_for("PACS", port, "STORE_SCP")
        )
        wait_for(lambda: _finished(job), timeout=90, what=lambda: log_path.read_text())
    assert job.state == SendState.SENT, job.error
    assert job.items.filter(state=SendItemState.SENT).count() == 4
    assert len(received) == 4
    assert "send_job_run_task" in log_path.read_text()
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, log_path.read_text()


def test_a_send_survives_its_worker_being_killed(celery_worker, settings, tmp_path):  # noqa: F811
    """The first worker dies mid-send (SIGKILL); once its job is stale, the periodic requeue
    hands it to a new worker, which sends only what was not recorded as sent."""
    first, log_path = celery_worker
    settings.SEND_STALE_SECONDS = 5
    study = portal_study(series=1, per_series=12)
    started = []

    def slow(event) -> int:
        started.append(event.request.AffectedSOPInstanceUID)
        time.sleep(0.3)  # a slow archive: the send takes long enough to be interrupted
        return 0x0000

    with pynetdicom_scp(on_store=slow) as (port, received):
        job = send.send_job_create(
            study=study, destination=destination_for("PACS", port, "STORE_SCP")
        )
        wait_for(
            lambda: job.items.filter(state=SendItemState.SENT).count() >= 3,
            timeout=90,
            what=lambda: log_path.read_text(),
        )
        first.kill()
        first.wait()
        env = {**worker_env(), "SEND_STALE_SECONDS": "5"}
        second = start_worker(env, tmp_path / "second.log", "send-resume")
        try:
            wait_for(lambda: send.send_jobs_requeue_due() > 0, timeout=60, what="a stale job")
            wait_for(
                lambda: _finished(job),
                timeout=120,
                what=lambda: (tmp_path / "second.log").read_text(),
            )
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)
    assert job.state == SendState.SENT, job.error
    sops = set(job.items.values_list("instance__sop_instance_uid", flat=True))
    assert job.items.filter(state=SendItemState.SENT).count() == 12
    assert {str(ds.SOPInstanceUID) for ds in received} == sops
    # Only instances not recorded as sent went again (at most the progress not yet written).
    assert len(received) < 12 + 12 // 2
    assert job.attempts_made.count() == 2


class CountingScp:
    """A slow Storage SCP that counts how many associations are open at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open = self.peak = 0
        self.received: list[str] = []
        self.ae = AE(ae_title="STORE_SCP")
        for context in AllStoragePresentationContexts:
            self.ae.add_supported_context(context.abstract_syntax, context.transfer_syntax)
        self.port = free_port()

    def _opened(self, event) -> None:
        with self.lock:
            self.open += 1
            self.peak = max(self.peak, self.open)

    def _closed(self, event) -> None:
        with self.lock:
            self.open -= 1

    def _store(self, event) -> int:
        self.received.append(str(event.request.AffectedSOPInstanceUID))
        time.sleep(0.2)  # a slow archive: sends overlap unless the limit holds them apart
        return 0x0000

    def __enter__(self) -> "CountingScp":
        self.server = self.ae.start_server(
            ("127.0.0.1", self.port),
            block=False,
            evt_handlers=[
                (evt.EVT_ESTABLISHED, self._opened),
                (evt.EVT_RELEASED, self._closed),
                (evt.EVT_ABORTED, self._closed),
                (evt.EVT_C_STORE, self._store),
            ],
        )
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()


def test_two_workers_keep_to_the_destinations_limit(celery_worker, tmp_path):  # noqa: F811
    """Two worker processes, three sends to a destination that takes one at a time: the
    database-counted slot keeps the sends apart, and every one of them completes."""
    first, log_path = celery_worker
    env = {**worker_env(), "SEND_SLOT_WAIT_SECONDS": "1"}
    second = start_worker(env, tmp_path / "second.log", "send-limit")
    try:
        with CountingScp() as scp:
            destination = destination_for("PACS", scp.port, "STORE_SCP", max_associations=1)
            jobs = [
                send.send_job_create(study=portal_study(per_series=4), destination=destination)
                for _ in range(3)
            ]
            for job in jobs:
                wait_for(
                    lambda job=job: _finished(job),
                    timeout=120,
                    what=lambda: log_path.read_text() + (tmp_path / "second.log").read_text(),
                )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert [job.state for job in jobs] == [SendState.SENT] * 3
    assert len(scp.received) == 12
    assert scp.peak == 1
    windows = sorted((a.started_at, a.finished_at) for job in jobs for a in job.attempts_made.all())
    assert all(end <= start for (_, end), (start, _) in pairwise(windows))
