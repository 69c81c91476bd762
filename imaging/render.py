"""Turning stored DICOM pixels into images a person can look at: thumbnails now, the viewer later.

The grey-scale pipeline follows PS3.3 C.11 (Modality LUT, then VOI LUT, then the photometric
interpretation); colour images come out as RGB. Anything that cannot be drawn becomes a
placeholder tile that says why, so one bad file never hides a study.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydicom import Dataset, dcmread
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi, get_decoder, pixel_array
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, MPEGTransferSyntaxes

_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")

# Data sets that carry no image by design, named the way a clinic would say it.
_NO_IMAGE_REASONS = {
    "SR": "No image (structured report)",
    "DOC": "No image (document)",
    "KO": "No image (key object selection)",
    "PR": "No image (presentation state)",
}
_PDF_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.104.1"


class RenderError(Exception):
    """The image cannot be drawn; str(e) is a short reason fit for a placeholder tile."""


class NoImage(RenderError):
    """The data set holds no image at all (a report, a PDF): nothing is wrong with it."""


@dataclass(frozen=True)
class Thumbnail:
    png: bytes
    # Why a placeholder was drawn because the image could not be; empty when all is well
    # (including instances that hold no image by design, which get a labelled tile).
    error: str = ""


def render_frame(
    dataset: Dataset, *, frame: int | None = None, window: tuple[float, float] | None = None
) -> Image.Image:
    """One frame as an 8-bit image (mode L or RGB); the middle frame of a multi-frame by default.

    `window` is (center, width) in modality units and replaces the file's own VOI.
    Raises RenderError (or NoImage) with a reason when it cannot be drawn.
    """
    if not _has_image_module(dataset):
        raise _missing_pixels(dataset)
    index = _frame_index(dataset, frame)
    tsyntax = _transfer_syntax(dataset)
    try:
        # Only the wanted frame is decoded, so a long cine costs one frame, not all of them.
        arr = pixel_array(dataset, index=index)
    except AttributeError as exc:
        raise _missing_pixels(dataset) from exc
    except Exception as exc:
        raise RenderError(_decode_failure(tsyntax)) from exc
    return _to_image(arr, dataset, index=index, window=window)


def thumbnail_for(file_or_path: str | os.PathLike | BinaryIO, *, size: int = 256) -> Thumbnail:
    """A PNG thumbnail of a stored instance (its representative frame), or a placeholder saying why not."""
    try:
        if isinstance(file_or_path, str | os.PathLike):
            with open(file_or_path, "rb") as handle:
                image, aspect = _render_file(handle, max_size=2 * size)
        else:
            image, aspect = _render_file(file_or_path, max_size=2 * size)
    except NoImage as exc:
        return Thumbnail(png=placeholder(str(exc), size=size))
    except RenderError as exc:
        return Thumbnail(png=placeholder(str(exc), size=size), error=str(exc))
    except OSError as exc:
        reason = "Cannot display: file cannot be read"
        return Thumbnail(png=placeholder(reason, size=size), error=f"{reason} ({exc})")
    return Thumbnail(png=_png(image, size=size, aspect=aspect))


def render_image(
    handle: BinaryIO,
    *,
    frame: int | None = None,
    window: tuple[float, float] | tuple[float, float, str] | None = None,
    max_size: int | None = None,
) -> tuple[Image.Image, float]:
    """One frame (0-based; the representative one by default) of a stored file as an 8-bit
    image, and its pixel aspect (height/width). Only that frame is read and decoded; with
    `max_size` it is decimated first. `window` is (center, width[, VOI LUT function]).
    Raises RenderError (or NoImage) with a reason when it cannot be drawn."""
    return _render_file(handle, max_size=max_size, frame=frame, window=window)


def render_thumbnail(file_or_path: str | os.PathLike | BinaryIO, *, size: int = 256) -> bytes:
    """PNG bytes of `thumbnail_for`: the image, or a placeholder with the reason."""
    return thumbnail_for(file_or_path, size=size).png


def placeholder(reason: str, *, size: int = 256) -> bytes:
    """A grey tile with a short, legible reason, as PNG."""
    tile = Image.new("RGB", (size, size), (72, 72, 76))
    draw = ImageDraw.Draw(tile)
    font = _font(max(9, size // 16))
    margin = max(4, size // 16)
    lines = _wrap(reason, font, size - 2 * margin, draw)
    line_height = font.getbbox("Ag")[3] + max(2, size // 64)
    y = (size - line_height * len(lines)) // 2
    for line in lines:
        width = draw.textlength(line, font=font)
        draw.text(((size - width) / 2, y), line, fill=(230, 230, 230), font=font)
        y += line_height
    draw.rectangle([0, 0, size - 1, size - 1], outline=(110, 110, 116))
    buffer = io.BytesIO()
    tile.save(buffer, format="PNG")
    return buffer.getvalue()


# --- reading ----------------------------------------------------------------------------------


def _render_file(
    handle: BinaryIO, *, max_size: int | None = None, frame: int | None = None, window=None
) -> tuple[Image.Image, float]:
    """The representative frame and its pixel aspect; only that frame is read and decoded.

    With `max_size`, pixels are decimated to no less than that before the LUT and window
    arithmetic, so a 3000×2500 radiograph costs a thumbnail's worth of float work and memory.
    """
    try:
        handle.seek(0)
        header = dcmread(handle, stop_before_pixels=True)
    except Exception as exc:  # pydicom raises many kinds on files that are not DICOM
        raise RenderError("Cannot display: not a readable DICOM file") from exc
    if not _has_image_module(header):
        raise _missing_pixels(header)
    if frame is None and _is_video(header):
        return _video_still(handle), 1.0
    index = _frame_index(header, frame)
    tsyntax = _transfer_syntax(header)
    handle.seek(0)
    if tsyntax == DeflatedExplicitVRLittleEndian:
        # A deflated data set must be inflated whole before its pixels can be found.
        try:
            dataset = dcmread(handle)
        except Exception as exc:
            raise RenderError("Cannot display: file is damaged") from exc
        return render_frame(dataset, frame=index, window=window), _pixel_aspect(dataset)
    try:
        arr = pixel_array(handle, index=index)
    except AttributeError as exc:
        raise _missing_pixels(header) from exc
    except Exception as exc:
        raise RenderError(_decode_failure(tsyntax)) from exc
    if max_size and arr.ndim in (2, 3):
        step = max(1, max(arr.shape[0], arr.shape[1]) // max_size)
        if step > 1:
            arr = np.ascontiguousarray(arr[::step, ::step])
    return _to_image(arr, header, index=index, window=window), _pixel_aspect(header)


def _transfer_syntax(ds: Dataset) -> UID:
    """The transfer syntax, with a clear reason when it is one we cannot decode."""
    tsyntax = UID(str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or ""))
    if not tsyntax:
        raise RenderError("Cannot display: transfer syntax unknown")
    label = _syntax_label(tsyntax)
    if tsyntax in MPEGTransferSyntaxes or "HEVC" in tsyntax.name:
        raise RenderError(f"Cannot display: video ({label}) has no still preview")
    try:
        decoder = get_decoder(tsyntax)
    except NotImplementedError as exc:
        raise RenderError(f"Cannot display: {label} is not supported") from exc
    if not decoder.is_available:
        raise RenderError(f"Cannot display: {label} decoder missing")
    return tsyntax


def _is_video(ds: Dataset) -> bool:
    tsyntax = UID(str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or ""))
    return tsyntax in MPEGTransferSyntaxes


def _video_still(handle: BinaryIO) -> Image.Image:
    """A video's first frame (decoded by FFmpeg through PyAV), or the reason it has none."""
    from imaging.convert.frames import NoFrame, video_first_frame  # imports ingest: not at load

    try:
        return video_first_frame(handle)
    except NoFrame as exc:
        raise RenderError(f"Cannot display: {exc}") from exc


def _syntax_label(tsyntax: UID) -> str:
    name = tsyntax.name if tsyntax.is_transfer_syntax else str(tsyntax)
    return name.split(" Image Compression")[0]


def _has_image_module(ds: Dataset) -> bool:
    return "Rows" in ds and "Columns" in ds and "BitsAllocated" in ds


def _missing_pixels(ds: Dataset) -> RenderError:
    if _has_image_module(ds):
        return RenderError("Cannot display: pixel data missing or incomplete")
    if str(ds.get("SOPClassUID", "")) == _PDF_SOP_CLASS:
        return NoImage("No image (PDF document)")
    reason = _NO_IMAGE_REASONS.get(str(ds.get("Modality", "")).upper(), "No image in this instance")
    return NoImage(reason)


def _decode_failure(tsyntax: UID) -> str:
    if tsyntax.is_compressed:
        return f"Cannot display: {_syntax_label(tsyntax)} data damaged or incomplete"
    return "Cannot display: pixel data damaged or incomplete"


def _frame_index(ds: Dataset, frame: int | None) -> int:
    try:
        frames = max(int(ds.get("NumberOfFrames") or 1), 1)
    except (TypeError, ValueError):
        frames = 1
    if frame is None:
        # The middle frame stands for a cine loop better than the first, often still blank.
        return frames // 2
    if not 0 <= frame < frames:
        raise RenderError(f"Frame {frame + 1} does not exist (the image has {frames})")
    return frame


# --- pixels -----------------------------------------------------------------------------------


def _to_image(
    arr: np.ndarray, ds: Dataset, *, index: int, window: tuple[float, float] | None
) -> Image.Image:
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    if arr.ndim == 3 and arr.shape[-1] == 3:
        # pixel_array has already turned YBR_FULL / YBR_FULL_422 (and JPEG's YCbCr) into RGB.
        return Image.fromarray(_rgb8(arr, ds), mode="RGB")
    if arr.ndim != 2:
        raise RenderError("Cannot display: unexpected pixel layout")
    if photometric == "PALETTE COLOR":
        try:
            return Image.fromarray(_rgb8(apply_color_lut(arr, ds), ds, lut=True), mode="RGB")
        except Exception as exc:
            raise RenderError("Cannot display: colour palette missing or invalid") from exc
    return Image.fromarray(_grey8(arr, ds, index=index, window=window), mode="L")


def _rgb8(arr: np.ndarray, ds: Dataset, *, lut: bool = False) -> np.ndarray:
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if lut:
        # PS3.3 C.7.6.3.1.6: some writers put 8-bit values in 16-bit palette entries.
        bits = 8 if int(arr.max(initial=0)) <= 255 else 16
    else:
        bits = int(ds.get("BitsStored") or arr.dtype.itemsize * 8)
    scaled = arr.astype(np.float64) * (255.0 / ((1 << bits) - 1))
    return np.clip(scaled + 0.5, 0, 255).astype(np.uint8)


def _grey8(
    arr: np.ndarray, ds: Dataset, *, index: int, window: tuple[float, float] | None
) -> np.ndarray:
    """Stored values → modality values → VOI → display, scaled to 0…255."""
    transforms = _frame_transforms(ds, index)
    padding = _padding_mask(arr, ds)
    values = np.asarray(apply_modality_lut(arr, transforms), dtype=np.float64)
    if window is not None:
        unit = _window(values, window[0], window[1], (tuple(window[2:]) or ("LINEAR",))[0])
    else:
        unit = _file_voi(values, transforms)
        if unit is None:
            unit = _auto_window(values, padding)
    if str(ds.get("PhotometricInterpretation", "")).strip().upper() == "MONOCHROME1":
        unit = 1.0 - unit  # PS3.3 C.7.6.3.1.2: minimum value is displayed white
    return np.clip(unit * 255.0 + 0.5, 0, 255).astype(np.uint8)


# Rescale and VOI attributes; enhanced multi-frame IODs keep them in functional groups instead.
_TRANSFORM_KEYWORDS = (
    "ModalityLUTSequence",
    "RescaleSlope",
    "RescaleIntercept",
    "RescaleType",
    "VOILUTSequence",
    "WindowCenter",
    "WindowWidth",
    "VOILUTFunction",
    "BitsStored",
    "PixelRepresentation",
)
_FUNCTIONAL_GROUPS = ("PixelValueTransformationSequence", "FrameVOILUTSequence")


def _frame_transforms(ds: Dataset, index: int) -> Dataset:
    """The frame's rescale and VOI: top level, then shared, then per-frame groups (PS3.3 C.7.6.16)."""
    shared = ds.get("SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if not shared and not per_frame:
        return ds
    out = Dataset()
    if hasattr(ds, "file_meta"):
        out.file_meta = ds.file_meta  # LUT data in OW needs the file's byte order
    for keyword in _TRANSFORM_KEYWORDS:
        if keyword in ds:
            out[keyword] = ds[keyword]
    groups = [shared[0] if shared else None]
    groups.append(per_frame[index] if per_frame and index < len(per_frame) else None)
    for group in groups:
        for sequence in _FUNCTIONAL_GROUPS:
            items = group.get(sequence) if group is not None else None
            if items:
                for element in items[0]:
                    out[element.tag] = element
    return out


def _padding_mask(arr: np.ndarray, ds: Dataset) -> np.ndarray | None:
    """Pixels outside the body (PS3.3 C.7.5.1.1.2 Pixel Padding Value) don't count for auto window."""
    if "PixelPaddingValue" not in ds:
        return None
    try:
        low = int(ds.PixelPaddingValue)
        high = int(ds.get("PixelPaddingRangeLimit", low))
    except (TypeError, ValueError):
        return None
    low, high = min(low, high), max(low, high)
    return (arr >= low) & (arr <= high)


def _file_voi(values: np.ndarray, ds: Dataset) -> np.ndarray | None:
    """The file's own VOI in 0…1, or None when it has none usable."""
    if ds.get("VOILUTSequence"):
        try:
            entries, first = ds.VOILUTSequence[0].LUTDescriptor[:2]
            lut = np.asarray(apply_voi(np.rint(values).astype(np.int64), ds), dtype=np.float64)
            # Scale by the LUT's own output range: writers often declare more bits than they use.
            every = apply_voi(np.arange(first, first + (entries or 65536), dtype=np.int64), ds)
            low, high = float(every.min()), float(every.max())
            return (lut - low) / (high - low) if high > low else np.zeros_like(lut)
        except Exception:
            pass  # a broken LUT falls back to the window, then to an automatic one
    center, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
    if center is None or width is None or width <= 0:
        return None
    function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
    return _window(values, center, width, function)


def _first(value) -> float | None:
    """Window Center/Width may be multi-valued (alternative windows): the first is the default."""
    if value is None or value == "":
        return None
    if not isinstance(value, str | bytes) and hasattr(value, "__getitem__"):
        if len(value) == 0:
            return None
        value = value[0]
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _window(values: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    """VOI windowing into 0…1 (PS3.3 C.11.2.1.2 and C.11.2.1.3)."""
    if function == "SIGMOID":
        return 1.0 / (1.0 + np.exp(-4.0 * (values - center) / max(width, 1e-6)))
    if function == "LINEAR_EXACT":
        return np.clip((values - center) / max(width, 1e-6) + 0.5, 0.0, 1.0)
    # LINEAR (the default); its width is at least 1 by definition.
    width = max(width, 1.0)
    return np.clip((values - (center - 0.5)) / max(width - 1.0, 1e-6) + 0.5, 0.0, 1.0)


def _auto_window(values: np.ndarray, padding: np.ndarray | None) -> np.ndarray:
    """A window from the 0.5th–99.5th percentiles, ignoring outliers and padding; flat images stay flat."""
    sample = values[~padding] if padding is not None and not padding.all() else values.ravel()
    step = max(1, sample.size // 1_000_000)  # a million samples estimate percentiles well enough
    sample = sample[::step]
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return np.zeros_like(values)
    low, high = np.percentile(sample, [0.5, 99.5])
    if high <= low:
        low, high = float(sample.min()), float(sample.max())
    if high <= low:
        return np.zeros_like(values)
    return np.clip((values - low) / (high - low), 0.0, 1.0)


# --- output -----------------------------------------------------------------------------------


def _png(image: Image.Image, *, size: int, aspect: float = 1.0) -> bytes:
    """Fit into a `size` square (never enlarged), pixels made square, as PNG."""
    width, height = image.width, image.height * aspect
    scale = min(1.0, size / max(width, height))
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    if target != image.size:
        image = image.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _pixel_aspect(ds: Dataset) -> float:
    """Height of a pixel over its width (Pixel Spacing is row\\column, PS3.3 10.7.1.3)."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing", "PixelAspectRatio"):
        value = ds.get(keyword)
        try:
            vertical, horizontal = float(value[0]), float(value[1])
        except (TypeError, ValueError, IndexError):
            continue
        if vertical > 0 and horizontal > 0 and 0.2 <= vertical / horizontal <= 5:
            return vertical / horizontal
    return 1.0


@cache
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(str(_FONT_DIR / "DejaVuSans.ttf"), size)
    except OSError:
        try:
            return ImageFont.load_default(size=size)
        except Exception:
            return ImageFont.load_default()


def _wrap(text: str, font, width: int, draw: ImageDraw.ImageDraw) -> list[str]:
    lines: list[str] = []
    for paragraph in text.replace(": ", ":\n", 1).splitlines():
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if line and draw.textlength(candidate, font=font) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        if line:
            lines.append(line)
    return lines or [""]
