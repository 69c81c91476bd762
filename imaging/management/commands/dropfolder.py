"""`python manage.py dropfolder`: import files that appear in the drop folder, until SIGTERM."""

import signal
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from imaging.dropfolder import DropFolder, drop_folder_watch


class Command(BaseCommand):
    help = "Watch the drop folder (PORTAL_DROP_FOLDER): import new files, move them aside."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--folder", help="folder to watch (default: PORTAL_DROP_FOLDER)")
        parser.add_argument(
            "--poll", type=float, default=2.0, help="seconds between looks (default 2)"
        )
        parser.add_argument(
            "--settle",
            type=float,
            help="seconds a file must stay unchanged (default: PORTAL_DROP_FOLDER_SETTLE_SECONDS)",
        )

    def handle(self, *args, folder: str | None, poll: float, settle: float | None, **options):
        root = folder or settings.PORTAL_DROP_FOLDER
        if not root:
            raise CommandError("No drop folder: set PORTAL_DROP_FOLDER or pass --folder.")
        if poll <= 0:
            raise CommandError("--poll must be more than 0 seconds")
        stop = threading.Event()

        def on_signal(signum, frame) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        watched = DropFolder(
            root=Path(root),
            settle_seconds=settings.PORTAL_DROP_FOLDER_SETTLE_SECONDS if settle is None else settle,
        )
        try:
            watched.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"cannot use the drop folder {root}: {exc}") from exc
        self.stdout.write(f"Watching {watched.root} (done/ and refused/ beside the new files).")
        drop_folder_watch(folder=watched, stop=stop, poll_seconds=poll)
        self.stdout.write("Drop folder stopped.")
