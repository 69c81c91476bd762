"""Reading a stored video or PDF back out of its DICOM file, for playback in a browser.

A video is read where it lies in the stored file (its fragments' offsets), so serving a
byte range of a long recording reads only that range.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from pydicom import dcmread
from pydicom.uid import MPEGTransferSyntaxes

from imaging import storage
from imaging.convert.mp4 import top_level_length
from imaging.models import Instance

PDF_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.104.1"
_PIXEL_DATA = struct.pack("<HH", 0x7FE0, 0x0010)
_ITEM, _SEQUENCE_END = (0xFFFE, 0xE000), (0xFFFE, 0xE0DD)


class NoMedia(Exception):
    """The instance holds no video or document to play or open."""


@dataclass(frozen=True)
class Media:
    content_type: str
    length: int
    pieces: tuple[tuple[int, int], ...] = ()  # (offset in the stored file, length) of a video
    data: bytes = b""  # a document, read whole

    def read(self, handle: BinaryIO, start: int, stop: int) -> Iterator[bytes]:
        """The bytes [start, stop) of the media, in chunks."""
        if not self.pieces:
            yield self.data[start:stop]
            return
        position = 0
        for offset, length in self.pieces:
            low, high = max(start, position), min(stop, position + length)
            while low < high:
                handle.seek(offset + low - position)
                chunk = handle.read(min(1 << 20, high - low))
                if not chunk:
                    return
                yield chunk
                low += len(chunk)
            position += length


def is_video(instance: Instance) -> bool:
    return instance.transfer_syntax_uid in MPEGTransferSyntaxes


def is_document(instance: Instance) -> bool:
    return instance.sop_class_uid == PDF_SOP_CLASS


@contextmanager
def instance_media_open(instance: Instance) -> Iterator[tuple[Media, BinaryIO]]:
    """The instance's video or PDF and the open stored file to read it from."""
    if not (is_video(instance) or is_document(instance)):
        raise NoMedia("no video or document in this instance")
    with storage.instance_open(instance.storage_key) as handle:
        if is_document(instance):
            ds = dcmread(handle)
            data = bytes(ds.get("EncapsulatedDocument", b""))
            length = int(ds.get("EncapsulatedDocumentLength") or len(data))
            yield Media("application/pdf", min(length, len(data)), data=data[:length]), handle
        else:
            yield _video(handle), handle


def _video(handle: BinaryIO) -> Media:
    dcmread(handle, stop_before_pixels=True)
    start = handle.tell()
    head = handle.read(12)
    if not head.startswith(_PIXEL_DATA):
        raise NoMedia("the video's pixel data cannot be found")
    pieces = []
    handle.seek(start + 12)
    first = True
    while True:
        item = handle.read(8)
        if len(item) < 8:
            break
        group, element, length = struct.unpack("<HHI", item)
        if (group, element) == _SEQUENCE_END:
            break
        if (group, element) != _ITEM:
            raise NoMedia("the video's pixel data is damaged")
        if not first and length:
            pieces.append((handle.tell(), length))
        first = False  # PS3.5 A.4: the first item is the Basic Offset Table
        handle.seek(length, 1)
    total = sum(length for _, length in pieces)
    media = Media("video/mp4", total, pieces=tuple(pieces))
    # The fragment was padded to even length (PS3.5 A.4): the MP4's own boxes say where it ends.
    true_length = top_level_length(Joined(media, handle), total)
    if total - 1 <= true_length < total:
        media = Media("video/mp4", true_length, pieces=_trim(pieces, true_length))
    return media


def _trim(pieces: list[tuple[int, int]], length: int) -> tuple[tuple[int, int], ...]:
    out, left = [], length
    for offset, size in pieces:
        if left <= 0:
            break
        out.append((offset, min(size, left)))
        left -= size
    return tuple(out)


class Joined:
    """A video's fragments read as one file, for readers that seek (box parsing, decoding)."""

    def __init__(self, media: Media, handle: BinaryIO) -> None:
        self.media, self.handle, self.position = media, handle, 0

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.position, 2: self.media.length}[whence]
        self.position = max(0, base + offset)
        return self.position

    def tell(self) -> int:
        return self.position

    def read(self, size: int = -1) -> bytes:
        stop = self.media.length if size is None or size < 0 else self.position + size
        data = b"".join(self.media.read(self.handle, self.position, min(stop, self.media.length)))
        self.position += len(data)
        return data


def video_media(handle: BinaryIO) -> Media:
    """Where the MP4 lies in the stored file open as `handle` (its fragments)."""
    handle.seek(0)
    return _video(handle)
