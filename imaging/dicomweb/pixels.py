"""Reading a stored instance's header and single frames without loading the whole file.

A frame request costs a header parse (remembered per stored file, whose content never
changes: its key holds its hash) and a seek: a 500-slice CT or a long cine loop is served
frame by frame from disk.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from struct import unpack
from typing import BinaryIO

import numpy as np
from pydicom import Dataset, dcmread
from pydicom.encaps import get_frame
from pydicom.pixels import pixel_array
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian

from imaging import storage
from imaging.dicomweb.media import NATIVE

_PIXEL_DATA_TAG = (0x7FE0, 0x0010)


class NoPixelData(Exception):
    """The instance holds no pixel data (a report, a PDF) or not the frame asked for."""


@dataclass(frozen=True)
class PixelLayout:
    """Where the pixel data sits in a stored file, and how its frames are laid out."""

    transfer_syntax: UID
    offset: int  # first byte of the Pixel Data value
    length: int  # 0xFFFFFFFF when encapsulated
    frames: int
    frame_bytes: int  # native frames only
    bits_allocated: int
    extended_offsets: tuple[bytes, bytes] | None = None

    @property
    def encapsulated(self) -> bool:
        return self.transfer_syntax not in NATIVE


def header_read(handle: BinaryIO) -> tuple[Dataset, PixelLayout | None]:
    """The data set up to its Pixel Data, and where that pixel data is (None if it has none)."""
    handle.seek(0)
    ds = dcmread(handle, stop_before_pixels=True)
    tsyntax = UID(str(ds.file_meta.get("TransferSyntaxUID", "") or ""))
    position = handle.tell()
    element = handle.read(12)
    if len(element) < 8 or tsyntax == DeflatedExplicitVRLittleEndian:
        return ds, _layout(ds, tsyntax, offset=-1, length=0) if _is_image(ds) else None
    little = tsyntax != ExplicitVRBigEndian
    endian = "<" if little else ">"
    group, elem = unpack(f"{endian}HH", element[:4])
    if (group, elem) != _PIXEL_DATA_TAG:
        return ds, None
    if tsyntax.is_implicit_VR:
        (length,) = unpack(f"{endian}L", element[4:8])
        offset = position + 8
    else:
        (length,) = unpack(f"{endian}L", element[8:12])
        offset = position + 12
    return ds, _layout(ds, tsyntax, offset=offset, length=length)


def _is_image(ds: Dataset) -> bool:
    return "Rows" in ds and "Columns" in ds and "BitsAllocated" in ds


def _layout(ds: Dataset, tsyntax: UID, *, offset: int, length: int) -> PixelLayout:
    frames = max(int(ds.get("NumberOfFrames") or 1), 1)
    bits = int(ds.get("BitsAllocated") or 8)
    samples = int(ds.get("SamplesPerPixel") or 1)
    pixels = int(ds.get("Rows") or 0) * int(ds.get("Columns") or 0) * samples
    extended = None
    if "ExtendedOffsetTable" in ds and "ExtendedOffsetTableLengths" in ds:
        extended = (ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths)
    return PixelLayout(
        transfer_syntax=tsyntax,
        offset=offset,
        length=length,
        frames=frames,
        frame_bytes=(pixels * bits + 7) // 8,
        bits_allocated=bits,
        extended_offsets=extended,
    )


class _Layouts:
    """A small per-process memory of stored files' pixel layouts (files never change in place)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._items: OrderedDict[str, PixelLayout | None] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: str, layout: PixelLayout | None) -> None:
        with self._lock:
            self._items[key] = layout
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get(self, key: str, handle: BinaryIO) -> PixelLayout | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        _, layout = header_read(handle)
        self.put(key, layout)
        return layout


_layouts = _Layouts()


def frame_stored(handle: BinaryIO, layout: PixelLayout, index: int) -> bytes:
    """Frame `index` (0-based) as stored: the compressed bitstream, or little-endian pixels."""
    _check_index(layout, index)
    if layout.offset < 0:  # deflated: the file must be inflated whole
        return frame_decoded(handle, layout, index)
    handle.seek(layout.offset)
    if layout.encapsulated:
        return get_frame(
            handle,
            index,
            number_of_frames=layout.frames,
            extended_offsets=layout.extended_offsets,
        )
    if layout.bits_allocated == 1 and layout.frames > 1:
        return frame_decoded(handle, layout, index)  # packed bits do not start on byte bounds
    handle.seek(layout.offset + index * layout.frame_bytes)
    data = handle.read(layout.frame_bytes)
    if len(data) < layout.frame_bytes:
        raise NoPixelData(f"Frame {index + 1} is incomplete in the stored file.")
    if layout.transfer_syntax == ExplicitVRBigEndian and layout.bits_allocated in (16, 32):
        dtype = f">u{layout.bits_allocated // 8}"
        data = np.frombuffer(data, dtype=dtype).astype(dtype.replace(">", "<")).tobytes()
    return data


def frame_decoded(handle: BinaryIO, layout: PixelLayout, index: int) -> bytes:
    """Frame `index` decoded to uncompressed little-endian pixels (colour as RGB, interleaved)."""
    _check_index(layout, index)
    handle.seek(0)
    if layout.transfer_syntax == DeflatedExplicitVRLittleEndian:
        arr = dcmread(handle).pixel_array
        arr = arr[index] if layout.frames > 1 else arr
    else:
        arr = pixel_array(handle, index=index)
    if arr.dtype.itemsize > 1:
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    if layout.bits_allocated == 1:
        return np.packbits(arr.astype(np.uint8).ravel(), bitorder="little").tobytes()
    return np.ascontiguousarray(arr).tobytes()


def _check_index(layout: PixelLayout, index: int) -> None:
    if not 0 <= index < layout.frames:
        raise NoPixelData(f"Frame {index + 1} does not exist (the image has {layout.frames}).")


def layout_remember(key: str, layout: PixelLayout | None) -> None:
    """Keep a layout found while reading the header for another reason (metadata)."""
    _layouts.put(key, layout)


def layout_for(key: str, handle: BinaryIO) -> PixelLayout:
    layout = _layouts.get(key, handle)
    if layout is None:
        raise NoPixelData("This instance holds no pixel data.")
    return layout


def open_instance(key: str) -> BinaryIO:
    return storage.instance_open(key)
