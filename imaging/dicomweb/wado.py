"""WADO-RS bodies: frames, bulk data and whole instances, as the client's Accept asks.

Frames are read one by one from storage (see pixels.py); instances stream file by file in
chunks, so retrieving a whole study never holds it in memory.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator

from pydicom import dcmread, dcmwrite
from pydicom.uid import UID, ImplicitVRLittleEndian

from imaging import storage
from imaging.dicomweb import media, multipart
from imaging.dicomweb.errors import BadRequest, NotAcceptable, NotFound
from imaging.dicomweb.pixels import (
    NoPixelData,
    PixelLayout,
    frame_decoded,
    frame_stored,
    header_read,
    layout_for,
)
from imaging.models import Instance


def frame_numbers(text: str) -> list[int]:
    """`1,3,5` as [1, 3, 5]; frame numbers start at 1 (PS3.18 8.3.5.1)."""
    try:
        numbers = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise BadRequest(f"Frame list {text!r} must be numbers separated by commas.") from None
    if not numbers or min(numbers) < 1:
        raise BadRequest("Frame numbers start at 1.")
    return numbers


class FrameBodies:
    """The parts of a frames answer for one instance; opened once, read frame by frame."""

    def __init__(self, instance: Instance, numbers: list[int], accept: str) -> None:
        self.instance = instance
        self.numbers = numbers
        with storage.instance_open(instance.storage_key) as handle:
            try:
                self.layout: PixelLayout = layout_for(instance.storage_key, handle)
            except NoPixelData as exc:
                raise NotFound(str(exc)) from exc
        missing = [n for n in numbers if n > self.layout.frames]
        if missing:
            raise NotFound(
                f"Frame {missing[0]} does not exist (the image has {self.layout.frames})."
            )
        try:
            self.answer = media.frames_negotiate(
                accept, self.layout.transfer_syntax, single=len(numbers) == 1
            )
        except ValueError as exc:
            raise NotAcceptable(str(exc)) from exc
        self.content_type = media.frame_content_type(self.answer.transfer_syntax)

    def _read(self, handle, number: int) -> bytes:
        index = number - 1
        try:
            if self.answer.decode and self.layout.encapsulated:
                return frame_decoded(handle, self.layout, index)
            return frame_stored(handle, self.layout, index)
        except NoPixelData as exc:
            raise NotFound(str(exc)) from exc

    def first(self) -> bytes:
        with storage.instance_open(self.instance.storage_key) as handle:
            return self._read(handle, self.numbers[0])

    def parts(self) -> Iterator[multipart.Part]:
        with storage.instance_open(self.instance.storage_key) as handle:
            for number in self.numbers:
                yield multipart.Part(self.content_type, self._read(handle, number))


def bulk_pixel_parts(instance: Instance, accept: str) -> FrameBodies:
    """Pixel Data as bulk data: all its frames, each a part."""
    with storage.instance_open(instance.storage_key) as handle:
        try:
            layout = layout_for(instance.storage_key, handle)
        except NoPixelData as exc:
            raise NotFound(str(exc)) from exc
    return FrameBodies(instance, list(range(1, layout.frames + 1)), accept)


def bulk_value(instance: Instance, path: str) -> bytes:
    """The value of the binary attribute at `path` (`TTTTTTTT` or `SSSSSSSS/i/TTTTTTTT/...`)."""
    steps = path.strip("/").split("/")
    with storage.instance_open(instance.storage_key) as handle:
        ds, _ = header_read(handle)
    try:
        for position in range(0, len(steps) - 1, 2):
            ds = ds[int(steps[position], 16)].value[int(steps[position + 1])]
        element = ds[int(steps[-1], 16)]
    except (KeyError, IndexError, ValueError, TypeError, AttributeError):
        raise NotFound(f"No bulk data at {path}.") from None
    value = element.value
    if not isinstance(value, bytes | bytearray):
        raise NotFound(f"No bulk data at {path}.")
    return bytes(value)


def instance_parts(instances: Iterable[Instance], transfer_syntax: str) -> Iterator[multipart.Part]:
    """Whole instances as application/dicom parts; `transfer_syntax` "" keeps each as stored."""
    for instance in instances:
        stored = instance.transfer_syntax_uid
        if not transfer_syntax or transfer_syntax == stored:
            content_type = f"{media.DICOM}; transfer-syntax={stored}"
            yield multipart.Part(content_type, _file_chunks(instance.storage_key))
        else:
            body = transcode(instance.storage_key, transfer_syntax)
            yield multipart.Part(f"{media.DICOM}; transfer-syntax={transfer_syntax}", body)


def _file_chunks(key: str) -> Iterator[bytes]:
    with storage.instance_open(key) as handle:
        while chunk := handle.read(multipart.CHUNK):
            yield chunk


def transcode(key: str, transfer_syntax: str) -> bytes:
    """The stored instance re-encoded in Explicit or Implicit VR Little Endian (decompressed)."""
    with storage.instance_open(key) as handle:
        ds = dcmread(handle)
    target = UID(transfer_syntax)
    if ds.file_meta.TransferSyntaxUID.is_compressed and "PixelData" in ds:
        # The same instance in another encoding: its SOP Instance UID stays (pydicom would
        # otherwise make a new one).
        ds.decompress(generate_instance_uid=False)
    ds.file_meta.TransferSyntaxUID = target
    buffer = io.BytesIO()
    dcmwrite(
        buffer,
        ds,
        enforce_file_format=True,
        implicit_vr=target == ImplicitVRLittleEndian,
        little_endian=True,
    )
    return buffer.getvalue()
