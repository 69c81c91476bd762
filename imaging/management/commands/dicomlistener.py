"""`python manage.py dicomlistener`: the DICOM listener (C-ECHO and C-STORE) in the foreground."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from imaging.dicom import listener


def _ae_title(value: str) -> str:
    # PS3.5 6.2: an AE title is 1-16 characters of the default repertoire, no backslash.
    if not 1 <= len(value) <= 16 or "\\" in value or not value.isascii() or not value.strip():
        raise CommandError(f"{value!r} is not a valid AE title (1-16 ASCII characters)")
    return value


class Command(BaseCommand):
    help = "Accept DICOM associations (also over TLS when set) until SIGTERM or Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, help="TCP port (default: DICOM_PORT)")
        parser.add_argument("--ae-title", help="our AE title (default: DICOM_AE_TITLE)")
        parser.add_argument("--bind", help="address to listen on (default: DICOM_BIND_ADDRESS)")
        parser.add_argument(
            "--tls-port", type=int, help="TCP port for DICOM over TLS (default: DICOM_TLS_PORT)"
        )

    def handle(
        self,
        *args,
        port: int | None,
        ae_title: str | None,
        bind: str | None,
        tls_port: int | None,
        **options,
    ):
        for option, value in (("--port", port), ("--tls-port", tls_port)):
            if value is not None and not 0 <= value <= 65535:
                raise CommandError(f"{option} {value} is not a TCP port")
        try:
            listener.serve(
                ae_title=_ae_title(ae_title) if ae_title else settings.DICOM_AE_TITLE,
                port=port,
                host=bind,
                tls_port=tls_port,
            )
        except ImproperlyConfigured as exc:
            raise CommandError(f"cannot accept DICOM over TLS: {exc}") from exc
        except OSError as exc:
            raise CommandError(f"cannot listen: {exc}") from exc
