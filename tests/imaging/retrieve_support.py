"""The portal's listener for retrieve tests, with its AE at hand (to see a C-CANCEL arrive)."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from pynetdicom import AE

from imaging.dicom import listener


@contextmanager
def portal_listener() -> Iterator[tuple[int, AE]]:
    """The portal's listener on a free loopback port; yields (port, its AE)."""
    ae = listener.build_ae(ae_title="VETPORTAL", max_pdu=settings.DICOM_MAX_PDU, max_associations=8)
    server = listener.start(
        ae, host="127.0.0.1", port=0, require_known_devices=False, min_free_bytes=0
    )
    try:
        yield server.server_address[1], ae
    finally:
        listener.stop(ae, server, grace=5.0)


def cancel_reached(ae: AE) -> bool:
    """Whether a C-CANCEL has reached one of the portal's associations."""
    return any(assoc.dimse.cancel_req for assoc in ae.active_associations)
