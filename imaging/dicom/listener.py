"""The portal's DICOM application entity: Verification and Storage SCP (pynetdicom).

Received data sets are written by pynetdicom straight into a staging file in DICOM file
format (no decoding), on the same filesystem as storage, so ingest moves them into place
with a rename. `serve()` runs the listener in the foreground until SIGTERM or SIGINT.
"""

import copy
import functools
import logging
import signal
import tempfile
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connections
from pydicom import uid
from pynetdicom import AE, _config, dimse_messages, evt
from pynetdicom.presentation import AllStoragePresentationContexts
from pynetdicom.sop_class import Verification
from pynetdicom.transport import ThreadedAssociationServer

from clinic import queue
from imaging import storage
from imaging.dicom import association_log, handlers, services, tls

logger = logging.getLogger(__name__)

# Everything a modality may send, stored as it arrives. When a sender proposes several
# syntaxes for one SOP class we pick the first of ours it offers (pynetdicom negotiates in
# the acceptor's order), so the uncompressed native ones, which every viewer reads, come first.
TRANSFER_SYNTAXES: list[str] = [
    uid.ExplicitVRLittleEndian,
    uid.ImplicitVRLittleEndian,
    uid.DeflatedExplicitVRLittleEndian,
    uid.JPEGBaseline8Bit,
    uid.JPEGExtended12Bit,
    uid.JPEGLossless,  # Process 14
    uid.JPEGLosslessSV1,  # Process 14, selection value 1
    uid.JPEGLSLossless,
    uid.JPEGLSNearLossless,
    uid.JPEG2000Lossless,
    uid.JPEG2000,
    uid.JPEG2000MCLossless,
    uid.JPEG2000MC,
    uid.HTJ2KLossless,
    uid.HTJ2KLosslessRPCL,
    uid.HTJ2K,
    uid.RLELossless,
    uid.MPEG2MPML,
    uid.MPEG2MPMLF,
    uid.MPEG2MPHL,
    uid.MPEG2MPHLF,
    uid.MPEG4HP41,
    uid.MPEG4HP41F,
    uid.MPEG4HP41BD,
    uid.MPEG4HP41BDF,
    uid.MPEG4HP422D,
    uid.MPEG4HP422DF,
    uid.MPEG4HP423D,
    uid.MPEG4HP423DF,
    uid.MPEG4HP42STEREO,
    uid.MPEG4HP42STEREOF,
    uid.HEVCMP51,
    uid.HEVCM10P51,
    # Retired (PS3.5 A.3), but older consoles still offer it.
    uid.ExplicitVRBigEndian,
]

# Connections that stay silent this long are dropped, so a vanished peer frees its slot.
NETWORK_TIMEOUT_SECONDS = 60
# On SIGTERM, senders in mid-study get this long to finish before their associations end.
SHUTDOWN_GRACE_SECONDS = 8.0
# Staging files older than this were left by a crash or a cut connection.
STALE_STAGING_SECONDS = 3600


def build_ae(*, ae_title: str, max_pdu: int, max_associations: int | None = None) -> AE:
    """The portal's AE, offering Verification and every storage SOP class pynetdicom knows.

    As an acceptor there is no 128-context limit (that applies to proposals), so all storage
    classes are supported at once.
    """
    _configure_pynetdicom()
    ae = AE(ae_title=ae_title)
    ae.maximum_pdu_size = max_pdu
    ae.maximum_associations = max_associations or settings.DICOM_MAX_ASSOCIATIONS
    ae.network_timeout = NETWORK_TIMEOUT_SECONDS
    ae.add_supported_context(Verification)
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, TRANSFER_SYNTAXES)
    for service in services.registered_services():
        for sop_class in service.sop_classes:
            ae.add_supported_context(
                sop_class,
                service.transfer_syntaxes,
                scu_role=service.scu_role or None,
                scp_role=True if service.scu_role else None,
            )
    return ae


def event_handlers(*, require_known_devices: bool, min_free_bytes: int) -> list:
    """The handlers bound to every association, with their settings passed in."""
    return [
        (evt.EVT_CONN_OPEN, handlers.handle_connection_open),
        (evt.EVT_REQUESTED, handlers.handle_association_requested, [require_known_devices]),
        (evt.EVT_C_ECHO, handlers.handle_echo),
        (evt.EVT_C_STORE, handlers.handle_store, [min_free_bytes]),
        (evt.EVT_RELEASED, handlers.handle_association_ended),
        (evt.EVT_ABORTED, handlers.handle_association_ended),
        # The association log: rejections, and every DIMSE request counted by kind.
        (evt.EVT_REJECTED, association_log.handle_rejected),
        *association_log.COUNTING_HANDLERS,
        # Worklist, MPPS, storage commitment reports …: registered by the apps that own them.
        *services.registered_handlers(),
    ]


def start(
    ae: AE,
    *,
    host: str,
    port: int,
    require_known_devices: bool,
    min_free_bytes: int,
) -> ThreadedAssociationServer:
    """Start accepting associations in the background (each association on its own thread)."""
    server = ae.start_server(
        (host, port),
        block=False,
        evt_handlers=event_handlers(
            require_known_devices=require_known_devices, min_free_bytes=min_free_bytes
        ),
    )
    assert server is not None  # non-blocking start always returns its server
    server.contexts = _SharedContexts(server.contexts)
    return server


def start_tls(
    ae: AE,
    *,
    host: str,
    port: int,
    tls_settings: tls.ListenerTls,
    require_known_devices: bool,
    min_free_bytes: int,
) -> ThreadedAssociationServer:
    """Start accepting DICOM over TLS on a second port: the same AE and handlers as `start`.

    ImproperlyConfigured (in words) when the certificate, key or CA files cannot serve.
    """
    context = tls.listener_tls_context(tls=tls_settings)
    server = ae.make_server(
        (host, port),
        evt_handlers=event_handlers(
            require_known_devices=require_known_devices, min_free_bytes=min_free_bytes
        ),
        server_class=tls.TlsAssociationServer,
        tls_context=context,
    )
    server.contexts = _SharedContexts(server.contexts)
    thread = threading.Thread(target=server.serve_forever, name="AcceptorServer-TLS", daemon=True)
    thread.start()
    ae._servers.append(server)  # as `start_server` does, so `ae.shutdown()` stops it too
    return server


class _SharedContexts(list):
    """The supported presentation contexts, copied cheaply for each association.

    pynetdicom deep-copies the server's contexts for every association it accepts; with every
    storage SOP class and ~30 transfer syntaxes that re-validates thousands of UIDs, about
    50 ms of CPU per association (a worklist query, or a console sending one image per
    association, pays it each time). Negotiation only reads them (`negotiate_as_acceptor`),
    so shallow copies of each context serve.
    """

    def __deepcopy__(self, memo: dict) -> list:
        return [copy.copy(context) for context in self]


def stop(
    ae: AE, *servers: ThreadedAssociationServer, grace: float = SHUTDOWN_GRACE_SECONDS
) -> None:
    """Stop accepting (on every port), let running associations finish for up to `grace`
    seconds, abort the rest.

    An aborted sender keeps every instance it was not yet told was stored, so nothing is lost.
    """
    for server in servers:
        server.shutdown()  # stops accepting and closes the listening socket
    deadline = time.monotonic() + grace
    while ae.active_associations and time.monotonic() < deadline:
        ae.active_associations[0].join(timeout=max(deadline - time.monotonic(), 0.01))
    for assoc in ae.active_associations:
        logger.warning("ending the association from %s: shutting down", assoc.requestor.ae_title)
        assoc.abort()
    for assoc in ae.active_associations:
        assoc.join(timeout=2)
    ae.shutdown()


def serve(
    *,
    ae_title: str | None = None,
    port: int | None = None,
    host: str | None = None,
    tls_port: int | None = None,
) -> None:
    """Run the listener until SIGTERM or SIGINT, then shut down cleanly.

    With a TLS port (DICOM_TLS_PORT), DICOM over TLS is accepted there too.
    """
    ae_title = ae_title or settings.DICOM_AE_TITLE
    port = settings.DICOM_PORT if port is None else port
    host = host or settings.DICOM_BIND_ADDRESS
    staging_sweep()
    ae = build_ae(
        ae_title=ae_title,
        max_pdu=settings.DICOM_MAX_PDU,
        max_associations=settings.DICOM_MAX_ASSOCIATIONS,
    )
    server = start(
        ae,
        host=host,
        port=port,
        require_known_devices=settings.DICOM_REQUIRE_KNOWN_DEVICES,
        min_free_bytes=settings.DICOM_MIN_FREE_BYTES,
    )
    bound_host, bound_port = server.server_address[:2]
    mode = "registered devices only" if settings.DICOM_REQUIRE_KNOWN_DEVICES else "any caller"
    logger.info("listening as %s on %s:%d (%s)", ae_title, bound_host, bound_port, mode)
    servers = [server]
    tls_port = settings.DICOM_TLS_PORT if tls_port is None else tls_port
    if tls_port:
        try:
            servers.append(_start_tls_from_settings(ae, host=host, port=tls_port))
        except BaseException:
            stop(ae, server, grace=0)
            raise
    # Embedded mode has no Celery beat: periodic work (completing studies whose sender
    # vanished, re-queueing stalled thumbnails) runs here instead.
    queue.start_local_beat()

    stopping = threading.Event()

    def _request_stop(signum: int, _frame) -> None:
        logger.info("%s received: finishing running associations", signal.Signals(signum).name)
        stopping.set()

    previous = {sig: signal.signal(sig, _request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopping.wait(timeout=1.0):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop(ae, *servers)
        connections.close_all()
        logger.info("listener stopped")


def _start_tls_from_settings(ae: AE, *, host: str, port: int) -> ThreadedAssociationServer:
    tls_settings = tls.ListenerTls(
        cert_file=settings.DICOM_TLS_CERT_FILE,
        key_file=settings.DICOM_TLS_KEY_FILE,
        ca_file=settings.DICOM_TLS_CA_FILE,
    )
    server = start_tls(
        ae,
        host=host,
        port=port,
        tls_settings=tls_settings,
        require_known_devices=settings.DICOM_REQUIRE_KNOWN_DEVICES,
        min_free_bytes=settings.DICOM_MIN_FREE_BYTES,
    )
    bound_host, bound_port = server.server_address[:2]
    clients = (
        "client certificates signed by DICOM_TLS_CA_FILE required"
        if tls_settings.requires_client_certificates
        else "no client certificate asked"
    )
    logger.info("listening for DICOM over TLS on %s:%d (%s)", bound_host, bound_port, clients)
    return server


def staging_sweep(max_age: float = STALE_STAGING_SECONDS) -> int:
    """Delete staging files left behind by a crash; returns how many were removed."""
    cutoff = time.time() - max_age
    removed = 0
    for path in Path(storage.staging_dir()).iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except OSError:
            continue
    if removed:
        logger.info("removed %d stale staging files", removed)
    return removed


def _staging_file(**kwargs):
    """pynetdicom's temporary file for a received data set, created in storage's staging folder."""
    return tempfile.NamedTemporaryFile(dir=storage.staging_dir(), **kwargs)


@functools.cache
def _configure_pynetdicom() -> None:
    """Receive each data set straight into a staging file, and skip logging nobody reads.

    pynetdicom writes a received data set in DICOM file format to a file it creates with
    `tempfile.NamedTemporaryFile`, with no setting for the folder (3.0), so its module-level
    name is pointed at ours: the file then already sits on storage's filesystem and ingest's
    move is a rename. After the handler returns, pynetdicom unlinks the path, ignoring a file
    ingest has already moved.

    Its standard event handlers describe every PDU and DIMSE message at INFO/DEBUG level,
    costing time on each instance; they are bound only when that logger would show them.
    """
    _config.STORE_RECV_CHUNKED_DATASET = True
    dimse_messages.NamedTemporaryFile = _staging_file
    if not logging.getLogger("pynetdicom").isEnabledFor(logging.INFO):
        _config.LOG_HANDLER_LEVEL = "none"
        # It also decodes and formats every C-FIND query and answer for those lines (about a
        # millisecond per worklist entry): only when they are shown.
        _config.LOG_REQUEST_IDENTIFIERS = False
    if not logging.getLogger("pynetdicom").isEnabledFor(logging.DEBUG):
        _config.LOG_RESPONSE_IDENTIFIERS = False
