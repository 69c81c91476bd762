"""What the DICOM listener does for each request a peer makes: one function per event.

Handlers are thin and never raise: they log who called, call a service, and translate every
failure into a named DICOM status, so one bad data set or a database hiccup never stops the
listener. All handlers of one association run on that association's thread, so it holds one
database connection: checked before each use, closed when the association ends.
"""

import errno
import logging
import socket
import threading
import weakref
from dataclasses import dataclass, field

from django.db import close_old_connections, connection, connections
from pynetdicom import evt
from pynetdicom.association import Association
from pynetdicom.events import Event

from imaging import ingest, storage
from imaging.dicom import association_log, status
from imaging.models import Device, Study

logger = logging.getLogger(__name__)

# A-ASSOCIATE-RJ fields for "calling AE title not recognised" (PS3.8 Table 9-21): a
# permanent rejection by the service user, so the sender does not retry the same way.
REJECTED_PERMANENT = 0x01
SOURCE_SERVICE_USER = 0x01
REASON_CALLING_AE_NOT_RECOGNISED = 0x03


@dataclass
class _Session:
    """What one association did, for its closing log line and for completing its studies."""

    calling_ae: str
    address: str
    study_ids: set[int] = field(default_factory=set)
    stored: int = 0
    failed: int = 0
    cache: ingest.IngestCache = field(default_factory=ingest.IngestCache)
    # What goes into the association log when it ends (counted in memory, one row at the end).
    tally: association_log.Tally | None = None


# Keyed weakly by association, so a session whose association vanished without a release or
# abort (a dead transport) is forgotten with it instead of accumulating.
_sessions: "weakref.WeakKeyDictionary[Association, _Session]" = weakref.WeakKeyDictionary()
_sessions_lock = threading.Lock()


def _peer(assoc: Association) -> tuple[str, str]:
    """(calling AE title, address) of the association's requestor, as far as known."""
    requestor = assoc.requestor
    calling_ae = (requestor.ae_title or "").strip()
    if not calling_ae and requestor.primitive is not None:
        calling_ae = (requestor.primitive.calling_ae_title or "").strip()
    try:
        address = f"{requestor.address}:{requestor.port}"
    except (ValueError, AttributeError):
        address = "?"
    return calling_ae, address


def database_checked() -> None:
    """Drop this thread's database connections that broke; keep healthy ones.

    `close_old_connections()` without its age limit: under CONN_MAX_AGE=0 (the SQLite default)
    that limit would reconnect for every instance, about a millisecond each. The association's
    connection is closed when the association ends instead.
    """
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and conn.errors_occurred:
            if conn.is_usable():
                conn.errors_occurred = False
            else:
                conn.close()


def _session(assoc: Association) -> _Session:
    with _sessions_lock:
        session = _sessions.get(assoc)
        if session is None:
            session = _sessions[assoc] = _Session(*_peer(assoc))
            session.tally = association_log.tally_for(assoc)
        return session


def handle_connection_open(event: Event) -> None:
    """EVT_CONN_OPEN: a peer connected; turn Nagle's algorithm off before any PDU is exchanged.

    With Nagle on, each small C-STORE response waits for the peer's delayed ACK (~40 ms on
    Linux), which caps a sender at a couple of dozen instances a second.
    """
    try:
        sock = event.assoc.dul.socket.socket
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (AttributeError, OSError) as exc:
        logger.warning("could not set TCP_NODELAY on a DICOM connection: %s", exc)
    logger.debug("DICOM connection from %s", event.address)


def handle_association_requested(event: Event, require_known_devices: bool) -> None:
    """EVT_REQUESTED: accept any caller, or only active registered devices.

    Devices are read per association, so a device added or deactivated in the admin counts
    at once. Any called AE title is accepted (as DCMTK and Orthanc do by default): a console
    configured with an old or mistyped portal name still delivers its images, and a warning
    tells the administrator to fix it.
    """
    assoc = event.assoc
    request = assoc.requestor.primitive
    calling_ae = (request.calling_ae_title or "").strip()
    called_ae = (request.called_ae_title or "").strip()
    _, address = _peer(assoc)
    own_ae = (assoc.acceptor.ae_title or "").strip()
    tally = association_log.tally_for(assoc)
    if called_ae != own_ae:
        tally.problem(
            f"called AE title {called_ae} not recognised (the portal is {own_ae}); accepted"
        )
        logger.warning(
            "%s at %s calls us %r but we are %r: accepted; correct the console's settings",
            calling_ae,
            address,
            called_ae,
            own_ae,
        )
    if not require_known_devices:
        logger.info("association requested by %s at %s", calling_ae, address)
        return
    close_old_connections()
    try:
        known = Device.objects.filter(ae_title=calling_ae, active=True).exists()
    except Exception:
        # Without the device list we cannot vouch for the caller: refuse rather than guess.
        logger.exception("device lookup failed for %s at %s", calling_ae, address)
        tally.rejection = (
            f"calling AE title {calling_ae} refused: the device list could not be read"
        )
        known = False
    if known:
        logger.info("association requested by device %s at %s", calling_ae, address)
        return
    logger.warning(
        "rejected association from %s at %s: not an active registered device", calling_ae, address
    )
    tally.rejection = tally.rejection or (
        f"calling AE title {calling_ae} is not a registered device"
    )
    # Rejected associations never reach release or abort: give this thread's connection back.
    connection.close()
    # The same steps pynetdicom takes for its own static `require_calling_aet` check.
    assoc.acse.send_reject(
        REJECTED_PERMANENT, SOURCE_SERVICE_USER, REASON_CALLING_AE_NOT_RECOGNISED
    )
    evt.trigger(assoc, evt.EVT_REJECTED, {})
    assoc.kill()


def handle_echo(event: Event) -> int:
    """EVT_C_ECHO: verification always succeeds while the listener runs."""
    calling_ae, address = _peer(event.assoc)
    logger.info("C-ECHO from %s at %s", calling_ae, address)
    return status.SUCCESS


def handle_store(event: Event, min_free_bytes: int) -> int:
    """EVT_C_STORE: store and index the received file; success only once both are durable."""
    session = _session(event.assoc)
    sop_uid = getattr(event.request, "AffectedSOPInstanceUID", "?")
    database_checked()
    try:
        free = storage.free_bytes()
        if free is not None and free < min_free_bytes:
            logger.error(
                "refused %s from %s: only %d bytes free on storage (minimum %d)",
                sop_uid,
                session.calling_ae,
                free,
                min_free_bytes,
            )
            return _failed(session, status.OUT_OF_RESOURCES, "storage is full")
        received = ingest.instance_receive_file(
            path=event.dataset_path, calling_ae=session.calling_ae, cache=session.cache
        )
        session.study_ids.add(received.instance.series.study_id)
    except ingest.IngestError as exc:
        logger.warning(
            "refused %s from %s at %s: %s", sop_uid, session.calling_ae, session.address, exc
        )
        return _failed(session, exc.status, f"instance refused: {exc}")
    except OSError as exc:
        logger.exception("could not store %s from %s", sop_uid, session.calling_ae)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):  # the sender may retry later
            return _failed(session, status.OUT_OF_RESOURCES, "storage is full")
        return _failed(session, status.PROCESSING_FAILURE, f"could not store: {exc}")
    except Exception as exc:
        logger.exception("unexpected error storing %s from %s", sop_uid, session.calling_ae)
        return _failed(session, status.CANNOT_UNDERSTAND, f"unexpected error: {exc}")
    session.stored += 1
    if session.tally is not None:
        session.tally.instances += 1
        how = "duplicate" if received.duplicate else "replaced" if received.replaced else "new"
        session.tally.study_touched(received.instance.series.study_id, how)
    logger.debug(
        "stored %s from %s%s", sop_uid, session.calling_ae, " (again)" if received.duplicate else ""
    )
    return status.SUCCESS


def _failed(session: _Session, code: int, reason: str) -> int:
    session.failed += 1
    if session.tally is not None:
        session.tally.problem(reason[:200])
    return code


def handle_association_ended(event: Event) -> None:
    """EVT_RELEASED / EVT_ABORTED: the studies this association touched are complete."""
    assoc = event.assoc
    with _sessions_lock:
        session = _sessions.pop(assoc, None)
    how = "released" if event.event == evt.EVT_RELEASED else "aborted"
    if event.event == evt.EVT_ABORTED:
        _discard_partial_dataset(assoc)
    tally = association_log.tally_pop(assoc)
    try:
        if session is None:
            calling_ae, address = _peer(assoc)
            logger.info("association from %s at %s %s", calling_ae, address, how)
            return
        logger.info(
            "association from %s at %s %s: %d stored, %d refused",
            session.calling_ae,
            session.address,
            how,
            session.stored,
            session.failed,
        )
        if session.study_ids:
            database_checked()
            ingest.studies_complete(study_ids=session.study_ids)
    except Exception:
        # Not fatal: studies left "receiving" are completed by the idle sweep.
        logger.exception("could not complete the studies of an association that %s", how)
    finally:
        _record(assoc, tally, how)
        # The association's thread ends here; its database connection goes with it.
        connection.close()


def _record(assoc: Association, tally: association_log.Tally | None, how: str) -> None:
    """The association's row in the log (one SELECT for its studies' UIDs, one INSERT)."""
    if tally is None:
        return
    try:
        database_checked()
        uids = dict(
            Study.objects.filter(pk__in=list(tally.studies)).values_list("pk", "study_instance_uid")
        )
    except Exception:
        logger.exception("could not look up the studies of an association")
        uids = {}
    reason = (
        "" if how == "released" else "ended without a release (aborted, or the connection was lost)"
    )
    association_log.record_save(tally, outcome=how, reason=reason, assoc=assoc, study_uids=uids)


def _discard_partial_dataset(assoc: Association) -> None:
    """Remove the staging file of a data set cut off by the abort (pynetdicom leaves it)."""
    message = getattr(getattr(assoc, "dimse", None), "message", None)
    partial = getattr(message, "_data_set_file", None)
    if partial is None:
        return
    try:
        partial.close()
        storage_path = getattr(message, "_data_set_path", None)
        if storage_path is not None:
            storage_path.unlink(missing_ok=True)
    except OSError as exc:
        logger.warning("could not remove a partly received data set: %s", exc)
