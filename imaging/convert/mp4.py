"""What a DICOM video header needs from an MP4 file, read from its ISO-BMFF boxes (ISO/IEC 14496-12).

Only the first video track is read: its coded size and H.264 profile and level from the
sample description (`avc1` / `avcC`, ISO/IEC 14496-15), its frame count and duration from
the sample tables. Nothing is decoded, so a long recording costs a few reads.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

# Boxes that hold other boxes on the way to the video track's sample description.
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}
# H.264 profile_idc values a High Profile decoder plays (ITU-T H.264 A.2): Baseline only when
# constrained (constraint_set1_flag), Main, Extended never seen in exports, High.
PROFILE_NAMES = {66: "Baseline", 77: "Main", 88: "Extended", 100: "High", 110: "High 10",
                 122: "High 4:2:2", 244: "High 4:4:4"}  # fmt: skip


class Mp4Error(ValueError):
    """The file is not an MP4 whose video the portal can describe; str(e) says why."""


@dataclass(frozen=True)
class VideoInfo:
    codec: str  # sample entry type: "avc1"/"avc3" for H.264, "hvc1"/"hev1" for HEVC …
    width: int
    height: int
    frames: int
    duration_seconds: float
    profile_idc: int = 0
    constraint_flags: int = 0
    level_idc: int = 0
    length: int = 0  # bytes covered by the top-level boxes: the file without any padding

    @property
    def frame_rate(self) -> float:
        return self.frames / self.duration_seconds if self.duration_seconds > 0 else 0.0

    @property
    def constrained_baseline(self) -> bool:
        return self.profile_idc == 66 and bool(self.constraint_flags & 0x40)


def _boxes(data: bytes, start: int = 0, end: int | None = None):
    """(type, payload start, box end) of each box between `start` and `end`."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos  # the last box runs to the end of the file
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


def top_level_length(handle: BinaryIO, limit: int) -> int:
    """Bytes the top-level boxes cover within the first `limit` bytes, reading only box headers."""
    pos = 0
    while pos + 8 <= limit:
        handle.seek(pos)
        head = handle.read(16)
        if len(head) < 8:
            break
        size, kind = struct.unpack_from(">I4s", head)
        if size == 1 and len(head) == 16:
            size = struct.unpack_from(">Q", head, 8)[0]
        elif size == 0:
            return limit
        if size < 8 or pos + size > limit or not kind.isascii():
            break
        pos += size
    return pos


def _read_top_level(handle: BinaryIO) -> tuple[dict[bytes, bytes], int]:
    """The `ftyp` and `moov` boxes' payloads (the `mdat` is skipped, not read), and the length."""
    found: dict[bytes, bytes] = {}
    handle.seek(0, 2)
    total = handle.tell()
    pos = 0
    while pos + 8 <= total:
        handle.seek(pos)
        head = handle.read(16)
        size, kind = struct.unpack_from(">I4s", head)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", head, 8)[0], 16
        elif size == 0:
            size = total - pos
        if size < header or pos + size > total:
            break
        if kind in (b"ftyp", b"moov"):
            handle.seek(pos + header)
            found[kind] = handle.read(size - header)
        pos += size
    return found, pos


def video_info(handle: BinaryIO) -> VideoInfo:
    """The first video track of the MP4 in `handle`. Raises Mp4Error with a reason in words."""
    boxes, length = _read_top_level(handle)
    if b"ftyp" not in boxes:
        raise Mp4Error("not an MP4 file")
    moov = boxes.get(b"moov")
    if moov is None:
        raise Mp4Error("the MP4 file is incomplete (no movie header): export it again")
    for kind, start, end in _boxes(moov):
        if kind == b"trak":
            info = _track(moov, start, end)
            if info is not None:
                return VideoInfo(**info, length=length)
    raise Mp4Error("the MP4 file holds no video")


def _track(data: bytes, start: int, end: int) -> dict | None:
    found: dict = {}
    _walk(data, start, end, found)
    if found.get("handler") != b"vide" or "codec" not in found:
        return None
    timescale, duration = found.get("mdhd", (0, 0))
    return {
        "codec": found["codec"],
        "width": found.get("width", 0),
        "height": found.get("height", 0),
        "frames": found.get("frames", 0),
        "duration_seconds": duration / timescale if timescale else 0.0,
        "profile_idc": found.get("profile_idc", 0),
        "constraint_flags": found.get("constraint_flags", 0),
        "level_idc": found.get("level_idc", 0),
    }


def _walk(data: bytes, start: int, end: int, found: dict) -> None:
    for kind, payload, box_end in _boxes(data, start, end):
        if kind in _CONTAINERS:
            _walk(data, payload, box_end, found)
        elif kind == b"hdlr":
            found["handler"] = data[payload + 8 : payload + 12]
        elif kind == b"mdhd":
            version = data[payload]
            if version == 1:
                timescale, duration = struct.unpack_from(">IQ", data, payload + 20)
            else:
                timescale, duration = struct.unpack_from(">II", data, payload + 12)
            found["mdhd"] = (timescale, duration)
        elif kind == b"stsz":
            # sample_size (4) and sample_count (4) after version and flags: one sample a frame.
            found["frames"] = struct.unpack_from(">I", data, payload + 8)[0]
        elif kind == b"stz2":
            found["frames"] = struct.unpack_from(">I", data, payload + 8)[0]
        elif kind == b"stsd":
            _sample_entry(data, payload + 8, box_end, found)


def _sample_entry(data: bytes, start: int, end: int, found: dict) -> None:
    for kind, payload, entry_end in _boxes(data, start, end):
        found["codec"] = kind.decode("latin-1")
        # VisualSampleEntry: 6 reserved + 2 index + 16 pre-defined/reserved, then width, height.
        found["width"], found["height"] = struct.unpack_from(">HH", data, payload + 24)
        for child, child_payload, _ in _boxes(data, payload + 78, entry_end):
            if child == b"avcC":
                # AVCDecoderConfigurationRecord: version, profile, constraint flags, level.
                profile, flags, level = data[child_payload + 1 : child_payload + 4]
                found.update(profile_idc=profile, constraint_flags=flags, level_idc=level)
        return
