"""The portal's own DICOM listener, run in-process on a free loopback port for a test."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from imaging.dicom import listener


@contextmanager
def running_listener(
    *, ae_title: str = "VETPORTAL", require_known_devices: bool = False
) -> Iterator[tuple[str, int, str]]:
    """Serve associations while the block runs; yields (host, port, ae_title).

    Settings (DICOM_MIN_FREE_BYTES, storage) are read when the block starts, so change them
    with the `settings` fixture first. Needs a database the association threads can see
    (`transactional_db`).
    """
    ae = listener.build_ae(
        ae_title=ae_title,
        max_pdu=settings.DICOM_MAX_PDU,
        max_associations=settings.DICOM_MAX_ASSOCIATIONS,
    )
    # Port 0: the kernel picks a free port and the server reports it, without a race.
    server = listener.start(
        ae,
        host="127.0.0.1",
        port=0,
        require_known_devices=require_known_devices,
        min_free_bytes=settings.DICOM_MIN_FREE_BYTES,
    )
    host, port = server.server_address[:2]
    try:
        yield host, port, ae_title
    finally:
        listener.stop(ae, server, grace=5.0)
