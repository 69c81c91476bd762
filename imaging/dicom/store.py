"""C-STORE on an established association: which presentation contexts to propose, and
sending each instance as stored, or converted to what the destination accepted."""

from collections.abc import Callable
from pathlib import Path

from pydicom import Dataset, uid
from pydicom.pixels import get_encoder
from pynetdicom.association import Association

from imaging.dicom import association_log, store_stream
from imaging.dicom.scu import (
    NETWORK_TIMEOUT_SECONDS,
    UNCOMPRESSED,
    InstanceRefused,
    Peer,
    StoreResult,
    TransportError,
    _sop_name,
)


def store_contexts(pairs: set[tuple[str, str]], preferred: str = "") -> list[tuple[str, list[str]]]:
    """Contexts for (SOP class, stored transfer syntax) pairs, per SOP class: the destination's
    preferred syntax first (when the portal can produce it), then each syntax as stored, alone,
    so that files can go as stored (an acceptor offered [explicit, implicit] may pick implicit
    and force a conversion of every file), then an uncompressed fallback so an instance can be
    converted rather than refused."""
    fallback = [preferred, *UNCOMPRESSED] if preferred in UNCOMPRESSED else UNCOMPRESSED
    fallback = list(dict.fromkeys(fallback))
    lead = [preferred] if preferred and _can_produce(preferred) else []
    contexts: list[tuple[str, list[str]]] = []
    for sop_class in sorted({sop for sop, _ in pairs}):
        stored = sorted({ts for sop, ts in pairs if sop == sop_class})
        for syntax in [*lead, *(ts for ts in stored if ts not in lead)]:
            contexts.append((sop_class, [syntax]))
        contexts.append((sop_class, fallback))
    return contexts


def _can_produce(syntax: str) -> bool:
    return syntax in UNCOMPRESSED or can_encode(syntax)


def can_encode(syntax: str) -> bool:
    """Whether pixel data can be compressed to `syntax` here (pydicom's encoder plugins)."""
    try:
        return get_encoder(syntax).is_available
    except (NotImplementedError, ValueError):
        return False


def _accepted(assoc: Association, sop_class: str, syntax: str) -> bool:
    return _context_id(assoc, sop_class, syntax) is not None


def _context_id(assoc: Association, sop_class: str, syntax: str) -> int | None:
    for cx in assoc.accepted_contexts:
        if cx.abstract_syntax == sop_class and cx.transfer_syntax[0] == syntax:
            return cx.context_id
    return None


class Sender:
    """C-STOREs over one association. On plain TCP, files the destination accepts as stored go
    through a `StoreStream` (pynetdicom's reactor is several times slower per instance);
    conversions and TLS go through pynetdicom."""

    def __init__(self, assoc: Association, peer: Peer, *, preferred: str = "") -> None:
        self.assoc = assoc
        self.preferred = preferred
        self._stream: store_stream.StoreStream | None = None
        self._fast = not peer.tls

    def __enter__(self) -> "Sender":
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop_stream()

    def _stop_stream(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            stream.__exit__(None, None, None)

    def store(self, **kwargs) -> StoreResult:
        """C-STORE one instance (see `_store`), counted in the association log."""
        result = self._store(**kwargs)
        association_log.instance_sent(self.assoc, result.status)
        return result

    def _store(
        self,
        *,
        path: Path | None,
        read: Callable[[], Dataset],
        sop_class: str,
        sop_instance: str,
        syntax: str,
    ) -> StoreResult:
        """C-STORE one instance: its file as stored where the destination accepts that transfer
        syntax; otherwise decoded and converted to the destination's preferred syntax (when it
        accepted only that) or to an uncompressed one."""
        if not self.assoc.is_established:
            raise TransportError(
                "The destination ended the association while sending.", permanent=False
            )
        context_id = _context_id(self.assoc, sop_class, syntax)
        if path is not None and context_id is not None:
            if self._fast:
                return StoreResult(
                    status=self._stream_store(context_id, sop_class, sop_instance, path),
                    converted=False,
                )
            return StoreResult(status=self._pynetdicom_store(path), converted=False)
        self._stop_stream()
        try:
            dataset = read()
        except Exception as exc:  # missing or damaged file: this instance alone cannot go
            raise InstanceRefused(
                f"The stored file of this instance cannot be read ({exc})."
            ) from exc
        converted = False
        if context_id is None:
            converted = True
            self._convert(dataset, sop_class, syntax)
        return StoreResult(status=self._pynetdicom_store(dataset), converted=converted)

    def _convert(self, dataset: Dataset, sop_class: str, syntax: str) -> None:
        """Decode (and, for a destination that accepted only its preferred compressed syntax,
        re-encode) in place; an image that cannot be converted fails alone, in words."""
        target = self._conversion_target(sop_class, syntax)
        try:
            # The instance keeps its UID: it is the same image, only encoded differently
            # (pydicom would otherwise make a new one, and receipts would never match).
            if syntax not in UNCOMPRESSED:
                dataset.decompress(generate_instance_uid=False)  # to Explicit VR Little Endian
            if target not in UNCOMPRESSED:
                dataset.compress(target, generate_instance_uid=False)
        except Exception as exc:  # pydicom raises several kinds for codec limits
            raise InstanceRefused(
                f"This image could not be converted to {uid.UID(target).name}, which the "
                f"destination asks for ({exc})."
            ) from exc

    def _conversion_target(self, sop_class: str, syntax: str) -> str:
        preferred = self.preferred
        if preferred and _accepted(self.assoc, sop_class, preferred) and _can_produce(preferred):
            return preferred
        for candidate in UNCOMPRESSED:
            if _accepted(self.assoc, sop_class, candidate):
                return candidate
        raise InstanceRefused(
            f"The destination does not accept this kind of image ({_sop_name(sop_class)})."
        )

    def _stream_store(self, context_id: int, sop_class: str, sop_instance: str, path: Path) -> int:
        if self._stream is None:
            self._stream = store_stream.StoreStream(
                self.assoc, timeout=NETWORK_TIMEOUT_SECONDS
            ).__enter__()
        try:
            status = self._stream.store(
                context_id=context_id,
                sop_class=sop_class,
                sop_instance=sop_instance,
                path=path,
                max_pdu=self.assoc.acceptor.maximum_length,
            )
            # Written outside pynetdicom's DIMSE layer, so its counting handlers never see it.
            association_log.session_note(self.assoc, "C-STORE sent")
            return status
        except store_stream.FileUnreadable as exc:
            raise InstanceRefused(
                f"The stored file of this instance cannot be read ({exc})."
            ) from exc
        except store_stream.StreamBroken as exc:
            self._stop_stream()
            self.assoc.abort()
            raise TransportError(
                f"The destination stopped answering while sending ({exc}).", permanent=False
            ) from exc

    def _pynetdicom_store(self, payload: Path | Dataset) -> int:
        status = self.assoc.send_c_store(payload)
        if not status or "Status" not in status:
            raise TransportError(
                "The destination stopped answering while sending (association aborted or "
                "timed out).",
                permanent=False,
            )
        return int(status.Status)
