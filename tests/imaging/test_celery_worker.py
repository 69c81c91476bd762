"""A real Celery worker on Redis renders the thumbnails of a study that arrives."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from pydicom.uid import generate_uid

from imaging import storage
from imaging.ingest import instance_receive_dataset, studies_complete
from imaging.models import Series, ThumbnailState
from imaging.synthetic import make_dataset
from tests.conftest import require

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

DEADLINE_SECONDS = 90


def _test_database_url() -> str:
    """DATABASE_URL of the database this test runs in, for a process started from it."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def worker_env() -> dict:
    """A worker's environment: this test's database and storage folder (PORTAL_DATA_DIR/files)."""
    location = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    return {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "PORTAL_DATA_DIR": str(location.parent),
        "PYTHONUNBUFFERED": "1",
    }


def start_worker(env: dict, log_path: Path, name: str) -> subprocess.Popen:
    """`celery -A clinic worker` in its own process, logging to `log_path`."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "clinic", "worker", "--pool=solo",
             "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "--hostname", f"{name}-{uuid.uuid4().hex[:8]}@%h"],
            cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip


@pytest.fixture
def celery_worker(_isolated_storage, tmp_path):
    """`celery -A clinic worker` in its own process, on the test database and storage folder."""
    if not os.environ.get("REDIS_URL"):
        # Embedded mode has no broker by design; its in-process path is tested in test_thumbnails.
        pytest.skip("embedded mode (no REDIS_URL): no Celery worker to start")
    require(_redis_answers(os.environ["REDIS_URL"]), "Redis at REDIS_URL does not answer")
    from clinic.celery import app

    app.control.purge()  # leftovers of earlier runs on this Redis database would only confuse
    log_path = tmp_path / "worker.log"
    worker = start_worker(worker_env(), log_path, "thumbnails-test")
    try:
        yield worker, log_path
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)  # warm shutdown: finish the task in hand, then exit
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def _redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def test_a_worker_renders_the_thumbnails_of_an_arriving_study(celery_worker):
    worker, log_path = celery_worker
    study_uid, series_uid = generate_uid(), generate_uid()
    for number in (1, 2, 3):
        ds = make_dataset(study_uid=study_uid, series_uid=series_uid, instance_number=number)
        instance_receive_dataset(dataset=ds, calling_ae="DR_ROOM1")
    series = Series.objects.get(series_instance_uid=series_uid)
    # The sender releases its association: the study completes and every slice is drawn.
    studies_complete(study_ids=[series.study_id])

    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        series.refresh_from_db()
        states = set(series.instances.values_list("thumbnail_state", flat=True))
        if series.thumbnail_key and states == {ThumbnailState.DONE}:
            break
        if worker.poll() is not None:
            pytest.fail(f"the worker exited ({worker.returncode}):\n{log_path.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"no thumbnails after {DEADLINE_SECONDS}s:\n{log_path.read_text()}")
        time.sleep(0.2)

    for key in [series.thumbnail_key, *series.instances.values_list("thumbnail_key", flat=True)]:
        with storage.thumbnail_open(key) as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    assert "render_series_thumbnails" in log_path.read_text()

    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, log_path.read_text()
