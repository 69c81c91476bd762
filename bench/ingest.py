"""`python -m bench ingest`: DCMTK storescu sends a CT and a DR set to the portal, Orthanc and storescp.

For the portal it measures instances/s until every instance is stored and indexed, seconds from
association release until the study shows complete in the REST API, first-thumbnail latency,
seconds until every thumbnail exists, and the memory high-water marks of the listener and worker.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.data import DataSet
from bench.peers import ORTHANC_AE_TITLE, Orthanc, start_storescp, storescu_send
from bench.portal import AE_TITLE, Portal, StudyWatcher, wait_until_complete
from bench.processes import Processes, ProcessFailed

# A listener whose memory is flat grows by less than this while the last 90 % of a 500-slice
# CT (about 240 MB) arrives; one that kept data sets in memory would grow by hundreds of MB.
FLAT_GROWTH_KIB = 32 * 1024


@dataclass
class Figures:
    """One receiver's figures for one data set (None: not measured or never reached)."""

    rate: float | None = None
    send_seconds: float | None = None
    complete_after_release: float | None = None
    complete_source: str = ""
    first_thumbnail: float | None = None
    thumbnails_after_release: float | None = None
    thumbnails_failed: int = 0
    listener_hwm_kib: int = 0
    listener_growth_kib: int | None = None
    worker_hwm_kib: int = 0
    peer_hwm_kib: int = 0
    cpu_seconds: float | None = None  # the receiver's CPU time from start of send to release
    error: str = ""


def run_portal(
    procs: Processes, datasets: list[DataSet], *, redis_url: str | None
) -> dict[str, Figures]:
    portal = Portal(procs, redis_url=redis_url)
    portal.prepare()
    return {dataset.name: _portal_send(procs, portal, dataset) for dataset in datasets}


def _portal_send(procs: Processes, portal: Portal, dataset: DataSet) -> Figures:
    figures = Figures()
    listener = worker = watcher = None
    try:
        listener, worker, port = portal.start_receivers(dataset.name)
        watcher = StudyWatcher(dataset, listener)
        watcher.start()
        cpu_before = listener.cpu_seconds()
        started, released = storescu_send(
            procs, dataset.directory, port, AE_TITLE, tag=f"portal-{dataset.name}"
        )
        figures.send_seconds = released - started
        figures.cpu_seconds = listener.cpu_seconds() - cpu_before
        figures.complete_after_release, figures.complete_source = wait_until_complete(
            portal, dataset, released_at=released, timeout=60
        )
        watcher.join(max(120.0, dataset.instances * 0.5) - (time.time() - released))
        watcher.stop()
        progress = watcher.progress
        figures.error = progress.error
        if progress.indexed_at:
            figures.rate = dataset.instances / (progress.indexed_at - started)
        if progress.first_thumbnail_at and progress.first_instance_at:
            figures.first_thumbnail = progress.first_thumbnail_at - progress.first_instance_at
        if progress.thumbnails_done_at:
            figures.thumbnails_after_release = progress.thumbnails_done_at - released
        figures.thumbnails_failed = progress.thumbnails_failed
        figures.listener_hwm_kib = listener.memory_kib("VmHWM")
        if progress.listener_rss_early_kib:
            figures.listener_growth_kib = figures.listener_hwm_kib - progress.listener_rss_early_kib
        figures.worker_hwm_kib = worker.memory_kib("VmHWM") if worker else 0
    except ProcessFailed as exc:
        figures.error = str(exc)
    finally:
        if watcher:
            watcher.stop()
        for process in (worker, listener):
            if process:
                procs.stop(process)
    return figures


def run_orthanc(procs: Processes, datasets: list[DataSet], work: Path) -> dict[str, Figures]:
    results = {}
    for dataset in datasets:
        figures = Figures()
        orthanc = None
        try:
            orthanc = Orthanc(procs, work / f"orthanc-{dataset.name}")
            cpu_before = orthanc.process.cpu_seconds()
            started, released = storescu_send(
                procs,
                dataset.directory,
                orthanc.dicom_port,
                ORTHANC_AE_TITLE,
                tag=f"orthanc-{dataset.name}",
            )
            # Orthanc answers each C-STORE once the instance is stored and indexed.
            stored = orthanc.instance_count()
            if stored != dataset.instances:
                figures.error = f"Orthanc holds {stored} of {dataset.instances} instances"
            figures.send_seconds = released - started
            figures.cpu_seconds = orthanc.process.cpu_seconds() - cpu_before
            figures.rate = dataset.instances / figures.send_seconds
            figures.peer_hwm_kib = orthanc.process.memory_kib("VmHWM")
        except ProcessFailed as exc:
            figures.error = str(exc)
        finally:
            if orthanc:
                procs.stop(orthanc.process)
        results[dataset.name] = figures
    return results


def run_storescp(procs: Processes, datasets: list[DataSet], work: Path) -> dict[str, Figures]:
    results = {}
    for dataset in datasets:
        figures = Figures()
        process = None
        try:
            process, port = start_storescp(procs, work / f"storescp-{dataset.name}")
            started, released = storescu_send(
                procs, dataset.directory, port, "STORESCP", tag=f"storescp-{dataset.name}"
            )
            figures.send_seconds = released - started
            figures.rate = dataset.instances / figures.send_seconds
        except ProcessFailed as exc:
            figures.error = str(exc)
        finally:
            if process:
                procs.stop(process)
        results[dataset.name] = figures
    return results


@contextmanager
def django_portal(work: Path, *, database_url: str | None = None) -> Iterator[dict[str, str]]:
    """This process as the run's portal (embedded storage under `work`, no Redis): yields the
    environment every process of the run gets, with Django started and the database migrated."""
    env = environment(data_dir=work / "portal-data", database_url=database_url, redis_url=None)
    os.environ.clear()
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)
    try:
        yield env
    finally:
        connections.close_all()


def environment(
    *, data_dir: Path, database_url: str | None, redis_url: str | None
) -> dict[str, str]:
    """The environment of every process of the run, and of this one (set before Django starts)."""
    env = {
        key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        PORTAL_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="clinic.settings",
        DICOM_BIND_ADDRESS="127.0.0.1",
        TCP_NODELAY="1",
        DEBUG="0",  # production settings: DEBUG would also keep every query in memory
        PYTHONUNBUFFERED="1",
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env
