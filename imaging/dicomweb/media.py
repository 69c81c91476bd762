"""Media types and transfer syntaxes: what a client's Accept header asks for, and what we answer.

PS3.18 8.7.3 (Tables 8.7.3-3, 8.7.3-5): frames and bulk data travel as
`application/octet-stream` (uncompressed, Explicit VR Little Endian byte order) or in their
compressed form under the media type of their transfer syntax; whole instances travel as
`application/dicom` in a transfer syntax the client names, `*` meaning "as stored".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

OCTET_STREAM = "application/octet-stream"
DICOM = "application/dicom"
DICOM_JSON = "application/dicom+json"
MULTIPART = "multipart/related"

UNCOMPRESSED = {ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian}
NATIVE = UNCOMPRESSED | {DeflatedExplicitVRLittleEndian}

# PS3.18 Table 8.7.3-5, with image/jll for JPEG Lossless as Cornerstone's loader reads it.
_COMPRESSED_MEDIA: dict[str, str] = {
    "1.2.840.10008.1.2.4.50": "image/jpeg",
    "1.2.840.10008.1.2.4.51": "image/jpeg",
    "1.2.840.10008.1.2.4.57": "image/jll",
    "1.2.840.10008.1.2.4.70": "image/jll",
    "1.2.840.10008.1.2.4.80": "image/jls",
    "1.2.840.10008.1.2.4.81": "image/jls",
    "1.2.840.10008.1.2.4.90": "image/jp2",
    "1.2.840.10008.1.2.4.91": "image/jp2",
    "1.2.840.10008.1.2.4.92": "image/jpx",
    "1.2.840.10008.1.2.4.93": "image/jpx",
    "1.2.840.10008.1.2.4.201": "image/jphc",
    "1.2.840.10008.1.2.4.202": "image/jphc",
    "1.2.840.10008.1.2.4.203": "image/jphc",
    "1.2.840.10008.1.2.5": "image/dicom-rle",
    "1.2.840.10008.1.2.4.100": "video/mpeg",
    "1.2.840.10008.1.2.4.101": "video/mpeg",
    "1.2.840.10008.1.2.4.102": "video/mp4",
    "1.2.840.10008.1.2.4.103": "video/mp4",
    "1.2.840.10008.1.2.4.104": "video/mp4",
    "1.2.840.10008.1.2.4.105": "video/mp4",
    "1.2.840.10008.1.2.4.106": "video/mp4",
    "1.2.840.10008.1.2.4.107": "video/H265",
    "1.2.840.10008.1.2.4.108": "video/H265",
}
# Other names clients use for the same media types.
_ALIASES = {"image/x-jls": "image/jls", "image/x-dicom-rle": "image/dicom-rle"}


def media_type_of(transfer_syntax: str) -> str:
    """The media type a frame in `transfer_syntax` travels as."""
    return _COMPRESSED_MEDIA.get(str(transfer_syntax), OCTET_STREAM)


def frame_content_type(transfer_syntax: str) -> str:
    """A frame part's Content-Type, always with its transfer syntax (clients decode by it)."""
    if transfer_syntax in NATIVE:
        transfer_syntax = ExplicitVRLittleEndian
    return f"{media_type_of(transfer_syntax)}; transfer-syntax={transfer_syntax}"


@dataclass(frozen=True)
class MediaRange:
    type: str
    params: dict[str, str] = field(default_factory=dict)
    q: float = 1.0


def accept_parse(header: str) -> list[MediaRange]:
    """The ranges of an Accept header, most wanted first (commas inside quotes are kept)."""
    ranges: list[MediaRange] = []
    for item in _split(header or "", ","):
        pieces = _split(item, ";")
        if not pieces or not pieces[0].strip():
            continue
        media = pieces[0].strip().lower()
        params: dict[str, str] = {}
        for piece in pieces[1:]:
            name, _, value = piece.partition("=")
            params[name.strip().lower()] = value.strip().strip('"').strip()
        try:
            q = float(params.pop("q", "1") or 1)
        except ValueError:
            q = 1.0
        if "type" in params:
            params["type"] = _ALIASES.get(params["type"].lower(), params["type"].lower())
        ranges.append(MediaRange(_ALIASES.get(media, media), params, q))
    ranges.sort(key=lambda r: -r.q)
    return [r for r in ranges if r.q > 0]


def _split(text: str, sep: str) -> list[str]:
    out, current, quoted = [], [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == sep and not quoted:
            out.append("".join(current))
            current = []
        else:
            current.append(char)
    out.append("".join(current))
    return out


@dataclass(frozen=True)
class FrameAnswer:
    """How frames will be sent: one part or multipart, stored bytes or decoded pixels."""

    multipart: bool
    decode: bool  # True: uncompressed pixels (decoded when stored compressed)
    transfer_syntax: str  # the transfer syntax the parts are labelled with


def frames_negotiate(accept: str, stored: str, *, single: bool) -> FrameAnswer:
    """What to send for a frames or bulk data request (PS3.18 8.7.4); raises ValueError if nothing fits."""
    stored = UID(stored)
    native = stored in NATIVE
    ranges = accept_parse(accept) or [MediaRange("*/*")]
    for r in ranges:
        if r.type in (MULTIPART, "multipart/*", "*/*"):
            inner = r.params.get("type", OCTET_STREAM) if r.type == MULTIPART else OCTET_STREAM
            answer = _frames_inner(inner, r.params.get("transfer-syntax", ""), stored, native)
            if answer:
                return FrameAnswer(True, *answer)
        elif single:
            answer = _frames_inner(r.type, r.params.get("transfer-syntax", ""), stored, native)
            if answer:
                return FrameAnswer(False, *answer)
    raise ValueError(
        f"Cannot send these frames as asked ({accept!r}); they are stored as "
        f"{stored.name or stored}. Ask for {OCTET_STREAM} or transfer-syntax=*."
    )


def _frames_inner(inner: str, wanted: str, stored: UID, native: bool) -> tuple[bool, str] | None:
    if inner in (OCTET_STREAM, "*/*", "*"):
        if wanted == "*":
            return (True, ExplicitVRLittleEndian) if native else (False, str(stored))
        if wanted in ("", ExplicitVRLittleEndian, ImplicitVRLittleEndian):
            return True, wanted or ExplicitVRLittleEndian
        return None
    if native:
        return None
    if inner == media_type_of(stored) and wanted in ("", "*", stored):
        return False, str(stored)
    return None


def instances_negotiate(accept: str, stored_syntaxes: set[str]) -> tuple[bool, str]:
    """(multipart, transfer syntax) for retrieving whole instances; "" means as stored.

    PS3.18 8.7.3.5.2: without a transfer-syntax parameter, Explicit VR Little Endian.
    Raises ValueError when the client asks for nothing we can produce.
    """
    ranges = accept_parse(accept) or [MediaRange("*/*")]
    for r in ranges:
        if r.type in (MULTIPART, "multipart/*", "*/*"):
            inner = r.params.get("type", DICOM) if r.type == MULTIPART else DICOM
            multipart = True
        elif r.type == DICOM:
            inner, multipart = DICOM, False
        else:
            continue
        if inner not in (DICOM, "*/*", "application/*"):
            continue
        wanted = r.params.get("transfer-syntax", "")
        if wanted == "*":
            return multipart, ""
        if wanted in ("", ExplicitVRLittleEndian, ImplicitVRLittleEndian):
            return multipart, wanted or ExplicitVRLittleEndian
        if stored_syntaxes == {wanted}:
            return multipart, ""
    raise ValueError(
        f"Cannot send these instances as asked ({accept!r}): ask for {DICOM} in Explicit VR "
        "Little Endian (the default), Implicit VR Little Endian, or transfer-syntax=* (as stored)."
    )
