"""What each association did, counted in memory while it runs and written as one row at its end.

Both sides use it: the listener's handlers (imaging/dicom/handlers.py) for incoming
associations, `scu.association()` for every association the portal opens. Counting is generic:
every DIMSE request pynetdicom receives or sends is counted by kind (EVT_DIMSE_RECV /
EVT_DIMSE_SENT), so services added to the listener later are counted without changes; work done
outside pynetdicom's DIMSE layer (the fast C-STORE stream) calls `session_note()`.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.dispatch import receiver
from django.utils import timezone
from pydicom import uid
from pynetdicom import evt
from pynetdicom.association import Association
from pynetdicom.events import Event

from imaging.association_models import AssociationRecord, Direction, Outcome
from imaging.dicom.tls import tls_handshake_refused

logger = logging.getLogger(__name__)

MAX_PROBLEMS = 20  # distinct failure lines kept per association; the count keeps the total

# PS3.8 Table 9-18: why the acceptor rejected one presentation context.
CONTEXT_RESULTS = {
    0x01: "refused by the receiver (user rejection)",
    0x02: "refused (no reason given)",
    0x03: "kind of data (SOP class) not supported",
    0x04: "none of the proposed transfer syntaxes is supported",
}

# PS3.8 Table 9-21: A-ASSOCIATE-RJ (source, reason) in words.
REJECT_REASONS = {
    (0x01, 0x01): "rejected, no reason given",
    (0x01, 0x02): "application context not supported",
    (0x01, 0x03): "calling AE title not recognised",
    (0x01, 0x07): "called AE title not recognised",
    (0x02, 0x01): "rejected by the DICOM layer, no reason given",
    (0x02, 0x02): "protocol version not supported",
    (0x03, 0x01): "temporary congestion",
    (0x03, 0x02): "too many associations at once (local limit exceeded)",
}


def reject_reason(source: int | None, diagnostic: int | None) -> str:
    return REJECT_REASONS.get((source or 0, diagnostic or 0), f"rejected ({source}/{diagnostic})")


@dataclass
class Tally:
    """One association's counters. Each counter is written by one thread only (DIMSE receive
    by the reader, sends and handlers by the association's thread), so no lock is needed."""

    direction: str
    calling_ae: str = ""
    called_ae: str = ""
    peer_host: str = ""
    peer_port: int | None = None
    started_at: datetime = field(default_factory=timezone.now)
    received: Counter = field(default_factory=Counter)
    sent: Counter = field(default_factory=Counter)
    notes: Counter = field(default_factory=Counter)
    instances: int = 0
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0
    # study primary key or UID → {"new": n, "duplicate": n, "replaced": n}
    studies: dict = field(default_factory=dict)
    # Set when the portal itself rejects the association, more precise than the RJ reason.
    rejection: str = ""
    saved: bool = False

    def problem(self, text: str) -> None:
        self.problem_count += 1
        if text not in self.problems and len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)

    def study_touched(self, key: int | str, how: str) -> None:
        counts = self.studies.setdefault(key, {"new": 0, "duplicate": 0, "replaced": 0})
        counts[how] += 1

    def operations(self) -> dict[str, int]:
        ops = {f"{kind} received": n for kind, n in self.received.items()}
        ops.update({f"{kind} sent": n for kind, n in self.sent.items()})
        for kind, n in self.notes.items():
            ops[kind] = ops.get(kind, 0) + n
        return ops


# Tallies of the associations running in this process, keyed weakly so a vanished association
# takes its tally with it.
_tallies: weakref.WeakKeyDictionary[Association, Tally] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def tally_for(assoc: Association, *, direction: str | None = None) -> Tally:
    """The association's tally, made on first use (incoming unless told otherwise)."""
    with _lock:
        tally = _tallies.get(assoc)
        if tally is None:
            tally = _tallies[assoc] = Tally(direction=direction or _direction(assoc))
            _fill_peer(tally, assoc)
        return tally


def tally_pop(assoc: Association) -> Tally | None:
    with _lock:
        return _tallies.pop(assoc, None)


def session_note(assoc: Association, kind: str, *, problem: str = "") -> None:
    """Count `kind` (e.g. "C-STORE sent") on the association; a problem is kept in words.

    For services that do work outside pynetdicom's DIMSE messages; never raises."""
    try:
        tally = tally_for(assoc)
        if kind:
            tally.notes[kind] += 1
        if problem:
            tally.problem(problem)
    except Exception:  # the log must never break the work it records
        logger.exception("could not note %s on an association", kind)


def instance_sent(assoc: Association, status: int) -> None:
    """An instance went out with `status`: a success counts, anything else is a problem."""
    try:
        tally = tally_for(assoc)
        # PS3.4 B.2.3: 0x0000 success; 0xB000, 0xB007, 0xB006 warnings (stored all the same).
        if status in (0x0000, 0xB000, 0xB006, 0xB007):
            tally.instances += 1
        else:
            tally.problem(f"an instance was refused (status 0x{status:04X})")
    except Exception:
        logger.exception("could not count a sent instance")


def _direction(assoc: Association) -> str:
    return Direction.OUTGOING if assoc.is_requestor else Direction.INCOMING


def _fill_peer(tally: Tally, assoc: Association) -> None:
    try:
        primitive = assoc.requestor.primitive
        if primitive is not None:
            tally.calling_ae = (primitive.calling_ae_title or "").strip()[:16]
            tally.called_ae = (primitive.called_ae_title or "").strip()[:16]
        other = assoc.requestor if assoc.is_acceptor else assoc.acceptor
        tally.peer_host, tally.peer_port = str(other.address), int(other.port)
    except (AttributeError, TypeError, ValueError):
        pass


def _message_kind(event: Event) -> str | None:
    """'C-STORE' for a C_STORE_RQ message; None for responses (only requests are counted)."""
    name = type(event.message).__name__
    if not name.endswith("_RQ"):
        return None
    return name[:-3].replace("_", "-")


def handle_dimse_received(event: Event) -> None:
    """EVT_DIMSE_RECV: count the peer's request by kind."""
    kind = _message_kind(event)
    if kind:
        tally_for(event.assoc).received[kind] += 1


def handle_dimse_sent(event: Event) -> None:
    """EVT_DIMSE_SENT: count our own request by kind (C-GET's C-STOREs, reports, sends)."""
    kind = _message_kind(event)
    if kind:
        tally_for(event.assoc).sent[kind] += 1


COUNTING_HANDLERS = [
    (evt.EVT_DIMSE_RECV, handle_dimse_received),
    (evt.EVT_DIMSE_SENT, handle_dimse_sent),
]


def _sop_name(value: str) -> str:
    return uid.UID(value).name or str(value)


def _contexts(assoc: Association) -> tuple[list, list]:
    try:
        accepted = [
            [_sop_name(cx.abstract_syntax), _sop_name(cx.transfer_syntax[0])]
            for cx in assoc.accepted_contexts
        ]
        rejected = [
            [_sop_name(cx.abstract_syntax), CONTEXT_RESULTS.get(cx.result, f"result {cx.result}")]
            for cx in assoc.rejected_contexts
        ]
    except (AttributeError, IndexError, TypeError):
        return [], []
    return accepted, rejected


def record_save(
    tally: Tally,
    *,
    outcome: str,
    reason: str = "",
    assoc: Association | None = None,
    study_uids: dict[int, str] | None = None,
) -> AssociationRecord | None:
    """Write the association's one row; never raises (the log must not break DICOM work)."""
    if tally.saved:
        return None
    tally.saved = True
    accepted, rejected = _contexts(assoc) if assoc is not None else ([], [])
    studies = {
        (study_uids or {}).get(key, str(key)): counts for key, counts in tally.studies.items()
    }
    try:
        return AssociationRecord.objects.create(
            direction=tally.direction,
            calling_ae=tally.calling_ae[:16],
            called_ae=tally.called_ae[:16],
            peer_host=tally.peer_host[:255],
            peer_port=tally.peer_port,
            started_at=tally.started_at,
            ended_at=timezone.now(),
            outcome=outcome,
            outcome_reason=(tally.rejection or reason)[:300],
            accepted_contexts=accepted,
            rejected_contexts=rejected,
            operations=tally.operations(),
            instances=tally.instances,
            problems=tally.problems,
            problem_count=tally.problem_count,
            studies=studies,
        )
    except Exception:
        logger.exception(
            "could not record the association %s → %s", tally.calling_ae, tally.called_ae
        )
        return None


def handle_rejected(event: Event) -> None:
    """EVT_REJECTED: the listener refused an association (ours or pynetdicom's own checks)."""
    assoc = event.assoc
    tally = tally_pop(assoc) or Tally(direction=Direction.INCOMING)
    if not tally.calling_ae:
        _fill_peer(tally, assoc)
    answer = assoc.acceptor.primitive
    reason = reject_reason(
        getattr(answer, "result_source", None), getattr(answer, "diagnostic", None)
    )
    if tally.rejection:
        reason = tally.rejection
    tally.problem(reason)
    try:
        record_save(tally, outcome=Outcome.REJECTED, reason=reason, assoc=assoc)
    finally:
        # A rejected association never reaches release or abort: give the connection back.
        connection.close()


def refusal_record(
    *,
    direction: str = Direction.INCOMING,
    peer_host: str,
    peer_port: int | None = None,
    reason: str,
    calling_ae: str = "",
    called_ae: str = "",
) -> AssociationRecord | None:
    """A connection that never became an association (a refused TLS handshake, say)."""
    tally = Tally(
        direction=direction,
        calling_ae=calling_ae,
        called_ae=called_ae,
        peer_host=peer_host,
        peer_port=peer_port,
    )
    tally.problem(reason)
    outcome = Outcome.REJECTED if direction == Direction.INCOMING else Outcome.FAILED
    return record_save(tally, outcome=outcome, reason=reason)


@receiver(tls_handshake_refused, dispatch_uid="association-log-tls-refused")
def _tls_refused(sender, *, address: str, reason: str, **_kwargs) -> None:
    """A caller on the TLS port whose handshake failed: logged like a rejected association."""
    host, _, port = address.rpartition(":")
    try:
        refusal_record(peer_host=host, peer_port=int(port), reason=f"TLS refused: {reason}")
    finally:
        connection.close()  # the connection's thread ends here
