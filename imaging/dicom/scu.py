"""Every association the portal opens to another DICOM node: C-ECHO, C-STORE (sent by
`imaging.dicom.store` on an association opened here), storage commitment (N-ACTION) and
C-FIND checks.

Failures become a `TransportError` whose message tells a clinic what to fix and whose
`permanent` flag says whether trying again later could help.
Each association, established or not, becomes one row of the association log
(`imaging.dicom.association_log`), with the reason in words when it failed.
"""

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from pydicom import Dataset, uid
from pynetdicom import AE, _config, evt
from pynetdicom.association import Association
from pynetdicom.sop_class import (
    StorageCommitmentPushModel,
    StudyRootQueryRetrieveInformationModelFind,
    Verification,
)

from imaging.dicom import association_log, handlers
from imaging.dicom.status import PROCESSING_FAILURE

logger = logging.getLogger(__name__)

# PS3.4 J.3.5: the well-known SOP Instance of the Storage Commitment Push Model.
STORAGE_COMMITMENT_INSTANCE = uid.UID("1.2.840.10008.1.20.1.1")
UNCOMPRESSED = [uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian]
CONNECT_TIMEOUT_SECONDS = 10
NETWORK_TIMEOUT_SECONDS = 60
# Presentation contexts one association may propose (PS3.8 9.3.2.2: context IDs are odd 1–255).
MAX_CONTEXTS = 128

# Over TLS, files are sent as stored, read in chunks from disk, never decoded, when the
# destination accepts their transfer syntax (pynetdicom only uses this for paths).
_config.STORE_SEND_CHUNKED_DATASET = True


class TransportError(Exception):
    """An association failed; `str(e)` is a sentence for the clinic."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class InstanceRefused(TransportError):
    """One instance cannot be sent on this association; the others still can."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


@dataclass(frozen=True)
class Peer:
    """Where to connect and as whom (a destination, seen by the network code)."""

    ae_title: str
    host: str
    port: int
    tls: bool = False
    tls_ca_file: str = ""
    tls_cert_file: str = ""
    tls_key_file: str = ""

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class StoreResult:
    status: int  # 0xFFFF: the destination answered nothing usable
    converted: bool


# PS3.8 Table 9-21 (A-ASSOCIATE-RJ): (source, reason) → what to fix.
def _rejection_message(peer: Peer, source: int, reason: int) -> str:
    calling = settings.DICOM_AE_TITLE
    if source == 1 and reason == 7:
        return (
            f"{peer.where} does not know the AE title {peer.ae_title!r}: check the AE title "
            "configured for this destination."
        )
    if source == 1 and reason == 3:
        return (
            f"{peer.where} does not know the portal: the destination must register the "
            f"portal's AE title {calling} (and its IP address) as an allowed sender."
        )
    if source == 3:
        return f"{peer.where} is busy (too many connections); the send will try again."
    return f"{peer.where} refused the connection (reason {reason}, source {source})."


def diagnose_unreachable(peer: Peer) -> TransportError:
    """Explain why no association could be opened, by trying the TCP connection alone."""
    try:
        socket.getaddrinfo(peer.host, peer.port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return TransportError(
            f"The name {peer.host!r} could not be resolved: check the host name or use the "
            "IP address.",
            permanent=False,
        )
    try:
        with socket.create_connection((peer.host, peer.port), timeout=CONNECT_TIMEOUT_SECONDS):
            pass
    except ConnectionRefusedError:
        return TransportError(
            f"Nothing is listening at {peer.where} — check the IP, port and firewall.",
            permanent=False,
        )
    except TimeoutError:
        return TransportError(
            f"No answer from {peer.where} within {CONNECT_TIMEOUT_SECONDS} s — blocked by a "
            "firewall or VPN?",
            permanent=False,
        )
    except OSError as exc:
        return TransportError(f"Cannot reach {peer.where}: {exc.strerror or exc}.", permanent=False)
    if tls_problem := _tls_diagnosis(peer):
        return tls_problem
    return TransportError(
        f"{peer.where} accepted the connection but ended it without a DICOM answer "
        "(is it a DICOM port? does it expect TLS?).",
        permanent=False,
    )


def _tls_args(peer: Peer) -> tuple[ssl.SSLContext, str] | None:
    """TLS that verifies the destination's certificate against the configured CA (or the
    system's CAs) and its name against the host, presenting the client certificate if set."""
    if not peer.tls:
        return None
    try:
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=peer.tls_ca_file or None
        )
        if peer.tls_cert_file:
            context.load_cert_chain(peer.tls_cert_file, peer.tls_key_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise TransportError(
            f"The TLS certificate files set for this destination cannot be used "
            f"({getattr(exc, 'strerror', None) or exc}): check the CA, certificate and key "
            "file paths.",
            permanent=True,
        ) from exc
    return context, peer.host


# OpenSSL verify codes (X509_V_ERR_*) that mean "signed by nobody the portal trusts".
_UNTRUSTED_CODES = {2, 18, 19, 20, 21}
_EXPIRED, _NOT_YET_VALID = 10, 9
_NAME_MISMATCH_CODES = {62, 64}


def _certificate_message(peer: Peer, exc: ssl.SSLCertVerificationError) -> str:
    code = exc.verify_code
    if code in _UNTRUSTED_CODES:
        ca = f"in {peer.tls_ca_file}" if peer.tls_ca_file else "among the system's CAs"
        return (
            f"The destination's certificate at {peer.where} is not signed by the configured CA "
            f"({ca}): check the CA file set for this destination, or the certificate the "
            "destination presents."
        )
    if code in _NAME_MISMATCH_CODES:
        return (
            f"The destination's certificate is not issued for {peer.host!r}: use the host name "
            "written in its certificate, or have the destination's certificate include this "
            "name or address."
        )
    if code in (_EXPIRED, _NOT_YET_VALID):
        return (
            f"The destination's certificate at {peer.where} is out of date ({exc.verify_message})."
        )
    return f"The destination's certificate at {peer.where} was refused: {exc.verify_message}."


def _tls_diagnosis(peer: Peer) -> TransportError | None:
    """Explain a failed TLS handshake by trying it alone; None when it succeeds."""
    tls = _tls_args(peer)
    if tls is None:
        return None
    context, hostname = tls
    try:
        with (
            socket.create_connection(
                (peer.host, peer.port), timeout=CONNECT_TIMEOUT_SECONDS
            ) as sock,
            context.wrap_socket(sock, server_hostname=hostname),
        ):
            pass
    except ssl.SSLCertVerificationError as exc:
        return TransportError(_certificate_message(peer, exc), permanent=True)
    except ssl.SSLError as exc:
        return TransportError(
            f"The TLS handshake with {peer.where} failed ({exc.reason or exc}): check that the "
            "destination expects TLS and accepts the portal's client certificate.",
            permanent=False,
        )
    except OSError:
        return None
    return None


@contextmanager
def association(
    peer: Peer,
    contexts: list[tuple[str, list[str]]],
    *,
    on_commitment_report: Callable[[Dataset], None] | None = None,
) -> Iterator[Association]:
    """An established association proposing `contexts`; released (or aborted) on exit."""
    if not logging.getLogger("pynetdicom").isEnabledFor(logging.INFO):
        # pynetdicom's standard handlers describe every PDU and DIMSE message, costing time
        # on each instance; they are bound only when that logger would show them.
        _config.LOG_HANDLER_LEVEL = "none"
    ae = AE(ae_title=settings.DICOM_AE_TITLE)
    ae.connection_timeout = CONNECT_TIMEOUT_SECONDS
    ae.network_timeout = NETWORK_TIMEOUT_SECONDS
    ae.acse_timeout = 30
    ae.dimse_timeout = NETWORK_TIMEOUT_SECONDS
    ae.maximum_pdu_size = settings.DICOM_MAX_PDU
    for abstract, syntaxes in contexts[:MAX_CONTEXTS]:
        ae.add_requested_context(abstract, syntaxes)
    # Nagle's algorithm off: pynetdicom writes each PDU with its own send() (see benchmark).
    event_handlers: list = [
        (evt.EVT_CONN_OPEN, handlers.handle_connection_open),
        *association_log.COUNTING_HANDLERS,
    ]
    reported = threading.Event()
    if on_commitment_report is not None:
        # PS3.4 J.3.3: the destination may report on this association instead of a new one.
        event_handlers.append(
            (evt.EVT_N_EVENT_REPORT, _report_handler(on_commitment_report, reported))
        )
    tls_args = _tls_args(peer)
    try:
        # pynetdicom reports a failed TLS handshake as a failed connection (and logs it);
        # `diagnose_unreachable` then tells which.
        assoc = ae.associate(
            peer.host,
            peer.port,
            ae_title=peer.ae_title,
            tls_args=tls_args,
            evt_handlers=event_handlers,
        )
    except OSError as exc:
        error = diagnose_unreachable(peer)
        _record_failure(association_log.Tally(**_log_fields(peer)), error)
        raise error from exc
    if not assoc.is_established:
        error = _not_established(peer, assoc)
        tally = association_log.tally_pop(assoc) or association_log.Tally(**_log_fields(peer))
        _record_failure(tally, error, assoc=assoc)
        raise error
    assoc.commitment_reported = reported  # set once a report came on this association
    tally = association_log.tally_for(assoc, direction=association_log.Direction.OUTGOING)
    try:
        yield assoc
    except BaseException as exc:
        assoc.abort()
        association_log.tally_pop(assoc)
        tally.problem(str(exc)[:200] or type(exc).__name__)
        association_log.record_save(
            tally, outcome=association_log.Outcome.ABORTED, reason=str(exc), assoc=assoc
        )
        raise
    else:
        if assoc.is_established:
            assoc.release()
        association_log.tally_pop(assoc)
        association_log.record_save(tally, outcome=association_log.Outcome.RELEASED, assoc=assoc)


def _log_fields(peer: Peer) -> dict:
    return {
        "direction": association_log.Direction.OUTGOING,
        "calling_ae": settings.DICOM_AE_TITLE,
        "called_ae": peer.ae_title,
        "peer_host": peer.host,
        "peer_port": peer.port,
    }


def _record_failure(
    tally: association_log.Tally, error: TransportError, *, assoc: Association | None = None
) -> None:
    """An association that did not come about goes into the log with the reason in words."""
    tally.problem(str(error)[:200])
    rejected = assoc is not None and assoc.is_rejected
    outcome = association_log.Outcome.REJECTED if rejected else association_log.Outcome.FAILED
    association_log.record_save(tally, outcome=outcome, reason=str(error), assoc=assoc)


def _not_established(peer: Peer, assoc: Association) -> TransportError:
    """Why the destination did not establish the association, for the clinic."""
    answer = assoc.acceptor.primitive
    if assoc.is_rejected and answer is not None:
        source, reason = answer.result_source, answer.diagnostic
        return TransportError(
            _rejection_message(peer, source, reason),
            permanent=answer.result == 0x01 and source == 1,
        )
    if answer is not None and answer.result == 0x00:
        return TransportError(
            f"{peer.where} accepted none of the kinds of images offered "
            "(SOP classes / transfer syntaxes).",
            permanent=True,
        )
    return diagnose_unreachable(peer)


def _report_handler(callback: Callable[[Dataset], None], reported: threading.Event):
    def handle(event) -> tuple[int, None]:
        try:
            info = event.event_information
            info.EventTypeID = event.request.EventTypeID
            callback(info)
        except Exception:
            logger.exception("storage commitment report on the send association failed")
            return PROCESSING_FAILURE, None
        reported.set()
        return 0x0000, None

    return handle


def echo(peer: Peer) -> float:
    """C-ECHO the peer; returns the round trip in seconds or raises TransportError."""
    started = time.monotonic()
    with association(peer, [(Verification, UNCOMPRESSED)]) as assoc:
        status = assoc.send_c_echo()
        if not status or status.Status != 0x0000:
            raise TransportError(f"{peer.where} answered the echo with an error.", permanent=False)
    return time.monotonic() - started


def commitment_request(
    assoc: Association,
    *,
    transaction_uid: str,
    references: list[tuple[str, str]],
    wait_for_report: float = 0.0,
) -> None:
    """Storage Commitment Push Model N-ACTION (PS3.4 J.3.2): ask the destination to
    confirm it safely holds every (SOP class, SOP instance) listed. Keeps the association
    open up to `wait_for_report` seconds for a report on it (PS3.4 J.3.3 allows either)."""
    request = Dataset()
    request.TransactionUID = transaction_uid
    request.ReferencedSOPSequence = []
    for sop_class, sop_instance in references:
        item = Dataset()
        item.ReferencedSOPClassUID = sop_class
        item.ReferencedSOPInstanceUID = sop_instance
        request.ReferencedSOPSequence.append(item)
    status, _ = assoc.send_n_action(
        request, 1, StorageCommitmentPushModel, STORAGE_COMMITMENT_INSTANCE
    )
    if not status or status.Status != 0x0000:
        code = f"0x{status.Status:04X}" if status and "Status" in status else "no answer"
        raise TransportError(
            f"The destination refused the storage commitment request ({code}).", permanent=False
        )
    reported = getattr(assoc, "commitment_reported", None)
    if reported is not None and wait_for_report > 0:
        reported.wait(wait_for_report)


def find_instance_uids(peer: Peer, *, study_uid: str, series_uids: list[str]) -> set[str]:
    """C-FIND at image level, series by series: the SOP Instance UIDs the destination holds."""
    found: set[str] = set()
    model = StudyRootQueryRetrieveInformationModelFind
    with association(peer, [(model, UNCOMPRESSED)]) as assoc:
        for series_uid in series_uids:
            query = Dataset()
            query.QueryRetrieveLevel = "IMAGE"
            query.StudyInstanceUID = study_uid
            query.SeriesInstanceUID = series_uid
            query.SOPInstanceUID = ""
            for status, identifier in assoc.send_c_find(query, model):
                if not status or "Status" not in status:
                    raise TransportError(
                        "The destination stopped answering the check.", permanent=False
                    )
                if status.Status in (0xFF00, 0xFF01) and identifier is not None:
                    found.add(str(identifier.get("SOPInstanceUID", "")))
    found.discard("")
    return found


def _sop_name(sop_class: str) -> str:
    return uid.UID(sop_class).name or sop_class
