"""What one imported file is: a DICOM file, a raw data set, something to ignore, or something a
registered converter can turn into DICOM.

Non-DICOM files (photos, videos, PDFs) are added from the study page, where the clinic says
which patient and study they belong to. A converter registered here lets the import accept
them too; none is registered by default, so they are refused with a reason that says where
to add them.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Protocol

from pydicom import dcmread
from pydicom.dataset import FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from imaging import storage
from imaging.dicom import status

if TYPE_CHECKING:
    from imaging.models import ImportBatch

NOT_DICOM = "not a DICOM file — photos, videos and PDFs are added from the study page"
# PS3.10 7.1: a Part-10 file starts with a 128-byte preamble and the magic "DICM".
_PREAMBLE = 128
_MAGIC = b"DICM"
# PS3.3 F.2: the DICOMDIR of a CD is a Media Storage Directory, an index and not an image.
MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"

# Files a clinic finds next to the images on a CD or in an export: the viewer program and its
# helpers. They are not images; importing them is neither possible nor an error.
_IGNORED_NAMES = {"dicomdir", "autorun.inf", "desktop.ini", "thumbs.db", ".ds_store"}
_IGNORED_SUFFIXES = {
    ".exe", ".dll", ".msi", ".bat", ".cmd", ".com", ".sys", ".ocx", ".inf", ".ini", ".cab",
    ".jar", ".dmg", ".app", ".so", ".dylib", ".chm", ".hlp", ".ico", ".htm", ".html", ".css",
    ".js", ".xml", ".xsl", ".txt", ".url", ".lnk", ".cfg", ".manifest", ".icns",
}  # fmt: skip
_IGNORED_FOLDERS = {"__macosx"}


class Refused(Exception):
    """A file we cannot import, with the reason in a clinic's words and the DICOM status that
    a STOW-RS answer reports for it (PS3.18 Table 10.5.3-2)."""

    def __init__(self, reason: str, *, status: int = status.CANNOT_UNDERSTAND) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def ignore_reason(name: str) -> str:
    """Why a file of this name is skipped without trying (a viewer program, the CD's index), or ''."""
    pure = PurePosixPath(name.replace("\\", "/"))
    if any(part.lower() in _IGNORED_FOLDERS for part in pure.parts[:-1]):
        return "not an image: a file the archiving program added"
    lowered = pure.name.lower()
    if lowered == "dicomdir":
        return "the CD's index (DICOMDIR), not an image"
    if lowered in _IGNORED_NAMES or pure.suffix.lower() in _IGNORED_SUFFIXES:
        return "not an image: part of a viewer program or the disc's menu"
    if lowered.startswith("._"):
        return "not an image: a file the archiving program added"
    return ""


# --- Converters (the seam for non-DICOM files) ------------------------------------------


class Converter(Protocol):
    """Turns a non-DICOM file into Part-10 files in the staging folder."""

    def accepts(self, *, path: Path, name: str) -> bool: ...

    def to_dicom(self, *, path: Path, name: str, batch: ImportBatch) -> list[Path]: ...


_converters: list[Converter] = []


def converter_register(converter: Converter) -> None:
    if converter not in _converters:
        _converters.append(converter)


def converter_unregister(converter: Converter) -> None:
    if converter in _converters:
        _converters.remove(converter)


def converter_for(*, path: Path, name: str) -> Converter | None:
    return next((c for c in _converters if c.accepts(path=path, name=name)), None)


# --- DICOM files with and without the Part-10 header -------------------------------------


META_WITHOUT_PREAMBLE = "meta"


@dataclass(frozen=True)
class Kind:
    part10: bool
    raw_transfer_syntax: str = ""


def dicom_kind(path: Path) -> Kind | None:
    """Part-10, a raw data set whose encoding we can tell (PS3.5 7.1), or None (not DICOM)."""
    with open(path, "rb") as handle:
        head = handle.read(_PREAMBLE + 8)
    if len(head) >= _PREAMBLE + 4 and head[_PREAMBLE : _PREAMBLE + 4] == _MAGIC:
        return Kind(part10=True)
    # A raw data set starts with its lowest group; after the meta group that is (0008,xxxx).
    if len(head) < 8:
        return None
    # The meta header without preamble and magic (pydicom's and some exporters' default).
    if head[:2] == b"\x02\x00" and head[4:6].isalpha():
        return Kind(False, META_WITHOUT_PREAMBLE)
    if head[:2] == b"\x08\x00":
        vr = head[4:6]
        explicit = vr.isalpha() and vr.isupper()
        return Kind(False, ExplicitVRLittleEndian if explicit else ImplicitVRLittleEndian)
    if head[:2] == b"\x00\x08" and head[4:6].isalpha():
        return Kind(False, ExplicitVRBigEndian)
    return None


def raw_to_part10(*, path: Path, transfer_syntax: str) -> Path:
    """A raw data set wrapped in a Part-10 header, streamed into a new staging file (the data
    set's bytes are copied as they are). Raises Refused when it is not a usable data set."""
    if transfer_syntax == META_WITHOUT_PREAMBLE:
        return _prefixed(path, b"\0" * _PREAMBLE + _MAGIC)
    try:
        ds = dcmread(path, force=True, stop_before_pixels=True)
        sop_class = str(ds.SOPClassUID)
        sop_instance = str(ds.SOPInstanceUID)
        ds.StudyInstanceUID, ds.SeriesInstanceUID  # noqa: B018 - required to index it
    except Exception as exc:
        raise Refused(NOT_DICOM) from exc
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_instance
    meta.TransferSyntaxUID = transfer_syntax
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    header = DicomBytesIO()
    write_file_meta_info(header, meta, enforce_standard=True)
    return _prefixed(path, b"\0" * _PREAMBLE + _MAGIC + header.getvalue())


def _prefixed(path: Path, prefix: bytes) -> Path:
    """A new staging file: `prefix`, then the file's bytes as they are (streamed)."""
    with tempfile.NamedTemporaryFile(dir=storage.staging_dir(), suffix=".dcm", delete=False) as out:
        out.write(prefix)
        with open(path, "rb") as source:
            shutil.copyfileobj(source, out, 1024 * 1024)
    return Path(out.name)


def header_read(path: Path):
    """The header of a Part-10 file (no pixels); raises Refused when it cannot be read."""
    try:
        ds = dcmread(path, stop_before_pixels=True)
    except Exception as exc:  # pydicom raises a wide variety on damaged input
        raise Refused(f"damaged DICOM file: its header cannot be read ({exc})") from exc
    # pydicom reads what it can of a damaged header; without its transfer syntax nothing
    # after it can be trusted (PS3.10 7.1).
    if not ds.file_meta.get("TransferSyntaxUID"):
        raise Refused("damaged DICOM file: its header cannot be read (no transfer syntax)")
    return ds


def is_media_directory(ds) -> bool:
    sop_class = ds.get("SOPClassUID") or ds.file_meta.get("MediaStorageSOPClassUID")
    return str(sop_class or "") == MEDIA_STORAGE_DIRECTORY
