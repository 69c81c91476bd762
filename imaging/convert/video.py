"""MP4 (H.264) videos as Video Endoscopic or Video Photographic Image Storage (PS3.3 A.32.5, A.32.7).

The MP4 file goes into Pixel Data unchanged, as the single fragment PS3.5 8.2.8 describes,
so the video a PACS or the viewer plays back is bit for bit the one that was recorded. The
transfer syntax follows the stream's level: 4.1 and lower is MPEG-4 AVC/H.264 High Profile /
Level 4.1; level 4.2 (1080p at 50/60 frames a second) is High Profile / Level 4.2 For 2D Video.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from pydicom import Dataset
from pydicom.tag import Tag
from pydicom.uid import (
    MPEG4HP41,
    MPEG4HP422D,
    VideoEndoscopicImageStorage,
    VideoPhotographicImageStorage,
)

from imaging.convert.common import MediaRefused
from imaging.convert.mp4 import PROFILE_NAMES, Mp4Error, VideoInfo, video_info

ENDOSCOPY = "endoscopy"
OTHER = "other"
# What the clinic chooses → SOP class, modality (PS3.3 C.7.3.1.1.1) and series description.
VIDEO_KINDS = {
    ENDOSCOPY: (VideoEndoscopicImageStorage, "ES", "Endoscopy video"),
    OTHER: (VideoPhotographicImageStorage, "XC", "Video"),
}
# PS3.5 8.2.8: both transfer syntaxes allow at most 1920×1080.
MAX_WIDTH, MAX_HEIGHT = 1920, 1080
_HEVC = {"hvc1", "hev1"}


@dataclass(frozen=True)
class Video:
    pixels: Dataset  # Image Pixel, Cine, Multi-frame and VL Image attributes; no Pixel Data
    transfer_syntax: str
    length: int  # bytes of the MP4 file that go into the fragment
    info: VideoInfo


def _transfer_syntax(info: VideoInfo) -> str:
    if info.codec in _HEVC:
        raise MediaRefused(
            "HEVC (H.265) videos are not supported: export the video as MP4 with H.264"
        )
    if info.codec not in ("avc1", "avc3"):
        raise MediaRefused(
            f"the video is not H.264 (it is “{info.codec.strip()}”): export it as MP4 with H.264"
        )
    if not (info.profile_idc in (77, 100) or info.constrained_baseline):
        profile = PROFILE_NAMES.get(info.profile_idc, f"profile {info.profile_idc}")
        raise MediaRefused(
            f"the video uses H.264 {profile}, which DICOM does not carry: export it with the "
            f"High, Main or Baseline profile (most export settings' default)"
        )
    if info.width > MAX_WIDTH or info.height > MAX_HEIGHT or info.level_idc > 42:
        raise MediaRefused(
            f"the video is {info.width}×{info.height}, larger than DICOM video allows: "
            f"export it at 1080p (1920×1080) or lower"
        )
    if info.frames < 1 or info.duration_seconds <= 0:
        raise MediaRefused(
            "the MP4 file is a streamed (fragmented) recording: save or export it as a regular MP4"
        )
    # PS3.5 8.2.8: Level 4.2 streams need the Level 4.2 transfer syntax.
    return MPEG4HP422D if info.level_idc == 42 else MPEG4HP41


def video_convert(source: BinaryIO, *, kind: str) -> Video:
    """Describe the MP4 in `source` for a DICOM header. Raises MediaRefused with the reason."""
    if kind not in VIDEO_KINDS:
        raise MediaRefused("choose whether the video is from endoscopy or something else")
    try:
        info = video_info(source)
    except Mp4Error as exc:
        raise MediaRefused(str(exc)) from exc
    except Exception as exc:  # a truncated or corrupt box table
        raise MediaRefused("the MP4 file is damaged: export it again") from exc
    syntax = _transfer_syntax(info)
    ds = Dataset()
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    # PS3.5 8.2.8: the stream's pixels are described as 8-bit YBR_PARTIAL_420.
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "YBR_PARTIAL_420"
    ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = info.height, info.width
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    # PS3.3 C.7.6.6 Multi-frame and C.7.6.5 Cine: frames advance by Frame Time.
    ds.NumberOfFrames = info.frames
    ds.FrameIncrementPointer = Tag("FrameTime")
    frame_ms = 1000.0 * info.duration_seconds / info.frames
    ds.FrameTime = f"{frame_ms:.4f}"[:16]
    ds.CineRate = max(1, round(info.frame_rate))
    ds.RecommendedDisplayFrameRate = ds.CineRate
    ds.StartTrim = 1
    ds.StopTrim = info.frames
    ds.ActualFrameDuration = max(1, round(frame_ms))
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionMethod = "ISO_14496_10"
    ds.AcquisitionContextSequence = []
    ds.PatientOrientation = ""
    # PS3.3 C.8.12.1.1: video needs an anatomic region; which one is not asked, so the
    # least specific code of CID 4 stands for it.
    region = Dataset()
    region.CodeValue, region.CodingSchemeDesignator = "38266002", "SCT"
    region.CodeMeaning = "Entire body"
    ds.AnatomicRegionSequence = [region]
    ds.BurnedInAnnotation = "NO"
    length = info.length
    source.seek(0, 2)
    length = min(length or source.tell(), source.tell())
    return Video(pixels=ds, transfer_syntax=syntax, length=length, info=info)
