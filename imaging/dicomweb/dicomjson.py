"""The DICOM JSON Model (PS3.18 Annex F): stored headers and index rows as JSON objects.

Binary values larger than a few hundred bytes are not inlined but referenced by a
BulkDataURI under the instance's `bulkdata/` URL (Pixel Data always is), so metadata stays
small and a viewer fetches pixels as frames.
"""

from __future__ import annotations

import base64
import functools
import math
import struct
from collections.abc import Iterable
from typing import Any

from pydicom import Dataset
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.filewriter import correct_ambiguous_vr_element
from pydicom.tag import BaseTag, Tag

from imaging.dicomweb.pixels import PixelLayout

Json = dict[str, Any]

# Binary values above this many bytes become BulkDataURIs (PS3.18 F.2.6).
BULK_THRESHOLD = 1024
_BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
# Where the metadata cache writes the DICOMweb root; replaced by the real root when served.
ROOT_PLACEHOLDER = "@@DICOMWEB_ROOT@@"


def tag_hex(tag: int) -> str:
    return f"{int(tag):08X}"


def tag_parse(text: str) -> BaseTag:
    """A tag from a keyword (`PatientName`) or 8 hex digits (`00100010`); ValueError otherwise."""
    text = text.strip()
    if len(text) == 8 and all(c in "0123456789abcdefABCDEF" for c in text):
        return Tag(int(text, 16))
    tag = tag_for_keyword(text)
    if tag is None:
        raise ValueError(f"{text!r} is neither a DICOM keyword nor a tag (8 hex digits)")
    return Tag(tag)


def keyword(tag: int) -> str:
    return keyword_for_tag(tag) or tag_hex(tag)


def dataset_json(
    ds: Dataset, *, bulk_url: str, layout: PixelLayout | None = None, path: str = ""
) -> Json:
    """`ds` as a DICOM JSON object; large binaries become BulkDataURIs under `bulk_url`."""
    out: Json = {}
    little = getattr(ds, "original_encoding", (None, True))[1] is not False
    text_codec = _text_codec(ds) if not path else getattr(ds, "_json_codec", None)
    for tag in ds.keys():
        if tag.group == 0x0002 or tag.element == 0x0000:
            continue  # file meta and group lengths are not part of the data set (PS3.18 F.2)
        raw = ds.get_item(tag)
        fast = _raw_json(raw, text_codec, bulk_url, path) if _is_raw(raw) else None
        if fast is None:
            fast = element_json(ds[tag], ds, bulk_url=bulk_url, path=path, little=little)
        out[tag_hex(tag)] = fast
    if layout is not None and not path:
        if layout.encapsulated or layout.bits_allocated <= 8:
            vr = "OB"
        else:
            vr = "OW"
        out["7FE00010"] = {"vr": vr, "BulkDataURI": f"{bulk_url}/7FE00010"}
    if not path and "SpecificCharacterSet" in ds:
        out["00080005"] = {"vr": "CS", "Value": ["ISO_IR 192"]}  # JSON is UTF-8 (PS3.18 F.2)
    return out


# --- the fast path: raw element bytes straight to JSON ----------------------------------------
#
# Reading a 500-slice series' headers through pydicom's value conversion costs several
# milliseconds per instance; most elements are plain text or numbers that need no more than a
# decode and a split, so those are converted here and anything unusual goes through pydicom.

_TEXT_VRS = {"AE", "AS", "CS", "DA", "DT", "TM", "UI", "SH", "LO", "UC", "PN", "DS", "IS"}
_SINGLE_TEXT_VRS = {"ST", "LT", "UT", "UR"}
_CHARSET_VRS = {"SH", "LO", "UC", "PN", "ST", "LT", "UT"}
_NUMBER_FORMATS = {
    "US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d", "UV": "Q", "SV": "q",
}  # fmt: skip
# Character sets whose text is one Python codec (no ISO 2022 code extensions).
_CODECS = {"": "ascii", "ISO_IR 6": "ascii", "ISO_IR 100": "latin-1", "ISO_IR 192": "utf-8"}


def _text_codec(ds: Dataset) -> str | None:
    value = ds.get_item(0x00080005)
    if value is None:
        return "ascii"
    raw = value.value if _is_raw(value) else None
    if raw is None:
        charsets = ds.get("SpecificCharacterSet", "")
    else:
        charsets = raw.decode("ascii", "replace").strip(" \0")
    if not isinstance(charsets, str):
        charsets = "\\".join(charsets)
    codec = _CODECS.get(charsets.strip())
    ds._json_codec = codec  # items of sequences decode with the data set's character set
    return codec


def _is_raw(element) -> bool:
    return getattr(element, "is_raw", False)


def _raw_json(raw, codec: str | None, bulk_url: str, path: str) -> Json | None:
    vr = raw.VR
    if vr is None or " or " in vr:
        vr = _dictionary_vr(raw.tag)
        if vr is None:
            return None
    value = raw.value
    if value is None:
        return None
    if vr == "SQ" or raw.length == 0xFFFFFFFF:
        return None
    if not value:
        return {"vr": vr}
    if vr in _BINARY_VRS:
        if len(value) > BULK_THRESHOLD:
            here = f"{path}/{tag_hex(raw.tag)}" if path else tag_hex(raw.tag)
            return {"vr": vr, "BulkDataURI": f"{bulk_url}/{here}"}
        return {"vr": vr, "InlineBinary": base64.b64encode(value).decode("ascii")}
    if vr in _NUMBER_FORMATS:
        code = _NUMBER_FORMATS[vr]
        size = struct.calcsize(code)
        if len(value) % size:
            return None
        endian = "<" if raw.is_little_endian else ">"
        numbers = list(struct.unpack(f"{endian}{len(value) // size}{code}", value))
        if vr in ("FL", "FD") and not all(math.isfinite(n) for n in numbers):
            return None  # JSON has no NaN or infinity: pydicom decides
        return {"vr": vr, "Value": numbers}
    if vr == "AT":
        return None
    if vr not in _TEXT_VRS and vr not in _SINGLE_TEXT_VRS:
        return None
    if vr in _CHARSET_VRS:
        if codec is None:
            return None
        try:
            text = value.decode(codec)
        except UnicodeDecodeError:
            return None
    else:
        text = value.decode("latin-1")
    if vr in _SINGLE_TEXT_VRS:
        text = text.rstrip(" \0")
        return {"vr": vr, "Value": [text]} if text else {"vr": vr}
    parts = [part.strip(" \0") for part in text.split("\\")]
    if vr == "PN":
        values = []
        for part in parts:
            groups = part.split("=")
            name = {"Alphabetic": groups[0]}
            if len(groups) > 1 and groups[1]:
                name["Ideographic"] = groups[1]
            if len(groups) > 2 and groups[2]:
                name["Phonetic"] = groups[2]
            values.append(name if part else None)
        return {"vr": vr, "Value": values} if any(values) else {"vr": vr}
    if vr in ("DS", "IS"):
        try:
            numbers = [_number(part, vr) for part in parts]
        except ValueError:
            return None
        return {"vr": vr, "Value": numbers} if any(n is not None for n in numbers) else {"vr": vr}
    if not any(parts):
        return {"vr": vr}
    return {"vr": vr, "Value": [part if part else None for part in parts]}


def _number(text: str, vr: str) -> int | float | None:
    if not text:
        return None
    if vr == "IS":
        return int(float(text)) if "." in text or "e" in text.lower() else int(text)
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(text)
    return (
        int(number)
        if number.is_integer() and "." not in text and "e" not in text.lower()
        else number
    )


def _dictionary_vr(tag: int) -> str | None:
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        return None
    return None if " or " in vr else vr


def element_json(elem: DataElement, ds: Dataset, *, bulk_url: str, path: str, little: bool) -> Json:
    if " or " in elem.VR:
        elem = correct_ambiguous_vr_element(elem, ds, little)
        if " or " in elem.VR:
            elem.VR = elem.VR.split(" or ")[0]
    vr = elem.VR
    here = f"{path}/{tag_hex(elem.tag)}" if path else tag_hex(elem.tag)
    if vr == "SQ":
        items = [
            dataset_json(item, bulk_url=bulk_url, path=f"{here}/{i}")
            for i, item in enumerate(elem.value or [])
        ]
        return {"vr": "SQ", "Value": items} if items else {"vr": "SQ"}
    if vr in _BINARY_VRS:
        value = elem.value
        if value is None or len(value) == 0:
            return {"vr": vr}
        if len(value) > BULK_THRESHOLD:
            return {"vr": vr, "BulkDataURI": f"{bulk_url}/{here}"}
        return {"vr": vr, "InlineBinary": base64.b64encode(value).decode("ascii")}
    try:
        return elem.to_json_dict(None, BULK_THRESHOLD)
    except Exception:
        # A value the sender wrote wrongly (e.g. text in a number) must not hide the instance.
        return {"vr": vr}


@functools.cache
def _tag_and_vr(keyword_or_tag: str | int) -> tuple[str, str]:
    tag = Tag(keyword_or_tag) if isinstance(keyword_or_tag, int) else tag_parse(keyword_or_tag)
    vr = dictionary_VR(tag)
    return tag_hex(tag), vr.split(" or ")[0]


def attribute(keyword_or_tag: str | int, value: Any, vr: str | None = None) -> tuple[str, Json]:
    """One (tag, JSON attribute) from a plain Python value taken from the index."""
    tag, known_vr = _tag_and_vr(keyword_or_tag)
    vr = vr or known_vr
    if value in (None, "") or (isinstance(value, list) and not value):
        return tag, {"vr": vr}
    values = value if isinstance(value, list) else [value]
    if vr == "PN":
        values = [{"Alphabetic": str(v)} for v in values]
    elif vr in ("IS", "SL", "SS", "UL", "US", "UV", "SV"):
        values = [int(v) for v in values]
    elif vr in ("DS", "FL", "FD"):
        values = [float(v) for v in values]
    else:
        values = [str(v) for v in values]
    return tag, {"vr": vr, "Value": values}


def attributes(items: Iterable[tuple[str | int, Any]]) -> Json:
    return dict(attribute(k, v) for k, v in items)
