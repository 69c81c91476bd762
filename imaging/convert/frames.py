"""A still picture of a stored video (its first frame), for thumbnails and previews."""

from __future__ import annotations

from typing import BinaryIO

from PIL import Image

from imaging.convert.extract import Joined, NoMedia, video_media


class NoFrame(Exception):
    """No frame could be decoded; str(e) is a short reason."""


def video_first_frame(handle: BinaryIO) -> Image.Image:
    """The first frame of the MP4 inside a stored DICOM video, as RGB."""
    try:
        import av  # PyAV: FFmpeg's decoders, shipped in its wheel
    except ImportError as exc:
        raise NoFrame("video decoder missing") from exc
    try:
        media = video_media(handle)
        with av.open(Joined(media, handle), mode="r") as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                return frame.to_image().convert("RGB")
    except (NoMedia, av.FFmpegError, IndexError, ValueError, OSError) as exc:
        raise NoFrame("video cannot be decoded") from exc
    raise NoFrame("video has no frames")
