"""Generated photos, videos and PDFs for the conversion tests (nothing binary is kept)."""

from __future__ import annotations

import io
from datetime import datetime

import numpy as np
from PIL import Image


def photo_jpeg(
    *,
    width: int = 64,
    height: int = 48,
    orientation: int = 1,
    taken: datetime | None = None,
    progressive: bool = False,
) -> bytes:
    """A colour JPEG with a bright top-left corner, optionally with EXIF orientation and date."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, :, 2] = 160
    pixels[: height // 4, : width // 4] = (250, 240, 40)
    image = Image.fromarray(pixels, mode="RGB")
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    if taken:
        exif.get_ifd(0x8769)[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90, exif=exif, progressive=progressive)
    return buffer.getvalue()


def photo_png(*, width: int = 40, height: int = 30, alpha: bool = False) -> bytes:
    pixels = np.zeros((height, width, 4 if alpha else 3), dtype=np.uint8)
    pixels[..., 0] = np.arange(width, dtype=np.uint8)[None, :] * 5
    pixels[..., 1] = 100
    if alpha:
        pixels[..., 3] = 255
        pixels[0, 0, 3] = 0
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def video_mp4(
    *,
    width: int = 160,
    height: int = 120,
    frames: int = 30,
    rate: int = 15,
    codec: str = "libx264",
    profile: str = "high",
    level: str | None = None,
) -> bytes:
    """An H.264 MP4 (PyAV's FFmpeg) whose frames show a moving bar, playable by browsers."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        options = {"preset": "ultrafast"}
        if codec == "libx264":
            options["profile"] = profile
            if level:
                options["level"] = level
        stream.options = options
        for index in range(frames):
            pixels = np.full((height, width, 3), 30, dtype=np.uint8)
            x = (index * 7) % width
            pixels[:, x : x + 10] = (240, 200, 60)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def document_pdf(text: str = "Referral letter for Rex") -> bytes:
    """A one-page PDF (written by hand: no PDF library needed)."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()
