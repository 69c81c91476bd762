"""Run the whole portal in one process tree: web server, DICOM listener and background worker.

Ctrl-C (or SIGTERM) stops every part; if one part dies, the others are stopped too, so the
portal never runs half-up. With REDIS_URL a real Celery worker (with beat) runs beside the
listener; without it, background work runs inside the process that queues it.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Set up and run the web server, the DICOM listener and (with REDIS_URL) a Celery worker."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--skip-setup", action="store_true", help="Do not migrate or create the administrator."
        )

    def handle(self, *args, **options) -> None:
        if not options["skip_setup"]:
            call_command("portal_setup")
        python = sys.executable
        bin_dir = os.path.dirname(python)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        parts = {
            "web": [
                os.path.join(bin_dir, "gunicorn"),
                "clinic.wsgi",
                "--bind", f"0.0.0.0:{settings.PORTAL_HTTP_PORT}",
                "--worker-class", "gthread", "--workers", "2", "--threads", "8",
                "--access-logfile", "-", "--graceful-timeout", "10",
            ],
            "dicom": [python, "manage.py", "dicomlistener"],
        }  # fmt: skip
        if settings.PORTAL_DROP_FOLDER:
            parts["dropfolder"] = [python, "manage.py", "dropfolder"]
        if settings.CELERY_BROKER_URL:
            parts["worker"] = [
                python,
                "-m",
                "celery",
                "-A",
                "clinic",
                "worker",
                "--beat",
                "--loglevel",
                "INFO",
            ]
        children: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(signum=None, frame=None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for name, command in parts.items():
            # Own process group: Ctrl-C reaches us once, and we stop the children in order.
            children[name] = subprocess.Popen(command, env=env, start_new_session=True)
        mode = "Celery on Redis" if settings.CELERY_BROKER_URL else "in-process (embedded)"
        tls = f" (TLS on {settings.DICOM_TLS_PORT})" if settings.DICOM_TLS_PORT else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Portal running: http://localhost:{settings.PORTAL_HTTP_PORT}/  "
                f"DICOM {settings.DICOM_AE_TITLE}@{settings.DICOM_PORT}{tls}  background work: {mode}\n"
                "Press Ctrl-C to stop."
            )
        )
        exit_code = 0
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    self.stderr.write(
                        f"{name} stopped (exit {child.returncode}); stopping the portal."
                    )
                    exit_code = child.returncode or 1
                    stopping = True
            time.sleep(0.2)
        self._stop_all(children)
        self.stdout.write("Portal stopped.")
        sys.exit(exit_code)

    def _stop_all(self, children: dict[str, subprocess.Popen]) -> None:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children.values():
            try:
                child.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
