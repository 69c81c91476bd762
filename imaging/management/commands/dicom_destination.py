"""`python manage.py dicom_destination add|list|echo`: DICOM destinations for scripts and admins."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from imaging import destinations
from imaging.models import Destination, DestinationKind


class Command(BaseCommand):
    help = "Add, list and test DICOM destinations (the nodes studies are sent to)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add a destination")
        add.add_argument("name")
        add.add_argument("--ae", required=True, help="the destination's AE title")
        add.add_argument("--host", required=True)
        add.add_argument("--port", required=True, type=int)
        add.add_argument("--commitment", action="store_true", help="offers storage commitment")
        add.add_argument("--query", action="store_true", help="answers C-FIND (Query/Retrieve)")
        add.add_argument("--kind", choices=DestinationKind.values, default=DestinationKind.PACS)
        add.add_argument("--max-associations", type=int, default=2)
        sub.add_parser("list", help="list destinations")
        echo = sub.add_parser("echo", help="test the connection (C-ECHO)")
        echo.add_argument("name")

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, f"_{action}")(**options)

    def _add(self, *, name, ae, host, port, commitment, query, kind, max_associations, **_):
        try:
            destination = destinations.destination_create(
                name=name,
                ae_title=ae,
                host=host,
                port=port,
                kind=kind,
                storage_commitment=commitment,
                query_retrieve=query,
                max_associations=max_associations,
            )
        except ValidationError as exc:
            problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            raise CommandError(problems) from exc
        self.stdout.write(f"added {destination}")

    def _list(self, **_) -> None:
        for d in Destination.objects.all():
            extras = [
                x
                for x, on in (("commitment", d.storage_commitment), ("query", d.query_retrieve))
                if on
            ]
            state = "" if d.active else " (off)"
            self.stdout.write(
                f"{d.name}\t{d.ae_title}@{d.host}:{d.port}\t{d.kind}\t{','.join(extras)}{state}"
            )

    def _echo(self, *, name: str, **_) -> None:
        destination = Destination.objects.filter(name=name).first()
        if destination is None:
            raise CommandError(f"no destination named {name!r}")
        check = destinations.destination_test_connection(destination=destination)
        if not check.ok:
            raise CommandError(check.message)
        self.stdout.write(check.message)
