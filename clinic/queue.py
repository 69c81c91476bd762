"""Queueing background work after commit, on Celery or in-process.

With a broker (REDIS_URL) a task goes to Celery. Without one (embedded mode) it runs on a
worker thread of the process that queued it. Either way the same task function runs, and
it is queued only once the transaction that made its work visible has committed.
"""

import logging
import queue
import threading
import time
from typing import Any

from celery import Task
from django.conf import settings
from django.db import close_old_connections, connections, transaction

logger = logging.getLogger(__name__)


def enqueue(task: Task, *args: Any, countdown: float | None = None) -> None:
    """Queue `task(*args)` once the current transaction commits (at once outside one)."""
    if settings.CELERY_BROKER_URL:
        transaction.on_commit(lambda: task.apply_async(args=args, countdown=countdown))
    else:
        transaction.on_commit(lambda: _local_runner().submit(task, args, countdown or 0.0))


class _LocalRunner:
    """A single daemon thread that runs queued tasks in order of their due time."""

    def __init__(self) -> None:
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._counter = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._thread = threading.Thread(target=self._run, name="portal-local-tasks", daemon=True)
        self._thread.start()

    def submit(self, task: Task, args: tuple, countdown: float) -> None:
        with self._lock:
            self._counter += 1
            self._pending += 1
            self._queue.put((time.monotonic() + countdown, self._counter, task, args))

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued or running (used by tests and `seed_demo`)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def _run(self) -> None:
        while True:
            due, counter, task, args = self._queue.get()
            delay = due - time.monotonic()
            if delay > 0:
                # Not due yet: put it back and sleep until it is (or until new work arrives).
                self._queue.put((due, counter, task, args))
                time.sleep(min(delay, 0.05))
                continue
            close_old_connections()
            try:
                task.apply(args=args, throw=True)
            except Exception:
                logger.exception("background task %s%r failed", task.name, args)
            finally:
                # An idle runner holds no database connection (tests drop their database,
                # and a PostgreSQL server has a connection limit).
                connections.close_all()
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()


_runner: _LocalRunner | None = None
_runner_lock = threading.Lock()


def _local_runner() -> _LocalRunner:
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = _LocalRunner()
        return _runner


def wait_for_local_tasks(timeout: float = 30.0) -> bool:
    """True once the in-process runner has nothing left to do (always True with Celery)."""
    if _runner is None:
        return True
    return _runner.wait_idle(timeout)


def start_local_beat() -> threading.Thread | None:
    """In embedded mode, run CELERY_BEAT_SCHEDULE's tasks on the local runner at their intervals.

    The DICOM listener (the one long-running process besides the web server) calls this, so
    periodic work happens without Celery beat. With a broker it does nothing: beat runs it.
    """
    if settings.CELERY_BROKER_URL or not settings.CELERY_BEAT_SCHEDULE:
        return None
    from celery import current_app

    current_app.loader.import_default_modules()  # autodiscovers every app's tasks
    entries = [
        (current_app.tasks[entry["task"]], float(entry["schedule"]))
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
    ]

    def beat() -> None:
        due = {task.name: time.monotonic() + interval for task, interval in entries}
        while True:
            now = time.monotonic()
            for task, interval in entries:
                if now >= due[task.name]:
                    _local_runner().submit(task, (), 0.0)
                    due[task.name] = now + interval
            time.sleep(1.0)

    thread = threading.Thread(target=beat, name="portal-local-beat", daemon=True)
    thread.start()
    return thread
