"""Photos (JPEG, PNG) as VL Photographic Image Storage (PS3.3 A.32.4).

A baseline 8-bit JPEG that needs no turning is kept byte for byte as JPEG Baseline
(PS3.5 8.2.1): no second lossy generation. A photo whose EXIF orientation says it must be
turned, a progressive or CMYK JPEG is decoded, turned upright and written once as baseline
JPEG at high quality. A PNG stays lossless as uncompressed RGB (or grey): PNGs are mostly
screenshots and annotated exports whose small text JPEG would blur; the file grows instead.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageOps, UnidentifiedImageError
from pydicom import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, VLPhotographicImageStorage

from imaging.convert.common import MediaRefused

REENCODE_QUALITY = 95
_EXIF_ORIENTATION = 0x0112
_EXIF_IFD = 0x8769
_EXIF_DATETIME_ORIGINAL = 0x9003
_EXIF_DATETIME = 0x0132
# Larger than any camera's photo: refuse decompression bombs before decoding.
MAX_PIXELS = 200_000_000

SOP_CLASS = VLPhotographicImageStorage
MODALITY = "XC"  # PS3.3 C.7.3.1.1.1: external-camera photography


@dataclass(frozen=True)
class Photo:
    """The image attributes and Pixel Data of a converted photo."""

    pixels: Dataset  # Image Pixel and VL Image attributes, Pixel Data included
    transfer_syntax: str
    taken: datetime | None
    kept_as_is: bool


def _jpeg_frame(data: bytes) -> tuple[int, int, int] | None:
    """(SOF marker, precision, components) of a JPEG, from its first start-of-frame segment."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return marker, data[pos + 4], data[pos + 9]
        if marker == 0xDA:
            return None
        pos += 2 + length
    return None


def _taken(image: Image.Image) -> datetime | None:
    """When the photo was taken: EXIF DateTimeOriginal, else the EXIF DateTime."""
    exif = image.getexif()
    values = [exif.get_ifd(_EXIF_IFD).get(_EXIF_DATETIME_ORIGINAL), exif.get(_EXIF_DATETIME)]
    for value in values:
        try:
            return datetime.strptime(str(value).strip("\0 ")[:19], "%Y:%m:%d %H:%M:%S")
        except (TypeError, ValueError):
            continue
    return None


def _image_pixel(ds: Dataset, *, rows: int, columns: int, samples: int, photometric: str) -> None:
    # PS3.3 C.7.6.3 Image Pixel and C.8.12.1 VL Image: 8 bits, unsigned, pixels interleaved.
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = photometric
    if samples == 3:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.AcquisitionContextSequence = []  # PS3.3 C.4.15: type 2, nothing is known
    ds.PatientOrientation = ""  # PS3.3 C.7.6.1: type 2C, unknown for a photo
    ds.Laterality = ""  # PS3.3 C.7.3.1: type 2C, empty when (as here) the side is not known
    ds.BurnedInAnnotation = "NO"


def _keep_jpeg(data: bytes, image: Image.Image) -> Dataset | None:
    """The JPEG as it is, when DICOM's JPEG Baseline can hold it unchanged (PS3.5 8.2.1)."""
    frame = _jpeg_frame(data)
    if frame is None or frame[0] != 0xC0 or frame[1] != 8 or frame[2] not in (1, 3):
        return None  # progressive, 12-bit, arithmetic or CMYK: decode and write baseline
    if frame[2] == 3 and image.mode != "RGB":
        return None
    ds = Dataset()
    if frame[2] == 1:
        photometric = "MONOCHROME2"
    elif image.info.get("adobe_transform") == 0:
        photometric = "RGB"  # an Adobe JPEG stored without the YCbCr transform
    else:
        # PS3.5 8.2.1: YCbCr JPEG is YBR_FULL_422 when chroma is subsampled, else YBR_FULL.
        photometric = "YBR_FULL_422" if _subsampled(image) else "YBR_FULL"
    _image_pixel(
        ds, rows=image.height, columns=image.width, samples=frame[2], photometric=photometric
    )
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionMethod = "ISO_10918_1"
    ds.PixelData = encapsulate([data])
    return ds


def _subsampled(image: Image.Image) -> bool:
    from PIL import JpegImagePlugin

    try:
        return JpegImagePlugin.get_sampling(image) != 0  # 4:4:4 is the only unsubsampled one
    except Exception:
        return True  # what cameras write


def _reencoded(image: Image.Image, *, lossy_source: bool) -> Dataset:
    """Decoded pixels turned upright: JPEG baseline for camera JPEGs, uncompressed for PNG."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info:
        # A transparent background becomes white, as a viewer shows it on a page.
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    elif image.mode in ("I;16", "I", "F"):
        image = ImageOps.autocontrast(image.convert("I")).convert("L")
    elif image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    samples = 3 if image.mode == "RGB" else 1
    ds = Dataset()
    if lossy_source:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=REENCODE_QUALITY, subsampling="4:2:2")
        photometric = "YBR_FULL_422" if samples == 3 else "MONOCHROME2"
        _image_pixel(
            ds, rows=image.height, columns=image.width, samples=samples, photometric=photometric
        )
        ds.ImageType = ["DERIVED", "PRIMARY"]
        ds.LossyImageCompression = "01"
        ds.LossyImageCompressionMethod = "ISO_10918_1"
        ds.PixelData = encapsulate([buffer.getvalue()])
    else:
        photometric = "RGB" if samples == 3 else "MONOCHROME2"
        _image_pixel(
            ds, rows=image.height, columns=image.width, samples=samples, photometric=photometric
        )
        ds.LossyImageCompression = "00"
        raw = image.tobytes()
        ds.PixelData = raw + b"\0" if len(raw) & 1 else raw
    return ds


def photo_convert(data: bytes) -> Photo:
    """A JPEG or PNG photo as VL Photographic pixels. Raises MediaRefused with the reason."""
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_PIXELS:
            raise MediaRefused("the photo is too large (more than 200 megapixels)")
        kind = image.format
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise MediaRefused("the photo cannot be read: the file is damaged or not an image") from exc
    if kind not in ("JPEG", "PNG"):
        raise MediaRefused(f"{kind} images are not supported: export the photo as JPEG or PNG")
    taken = _taken(image)
    orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    if kind == "JPEG" and orientation in (1, None):
        kept = _keep_jpeg(data, image)
        if kept is not None:
            return Photo(
                pixels=kept, transfer_syntax=JPEGBaseline8Bit, taken=taken, kept_as_is=True
            )
    lossy = kind == "JPEG"
    pixels = _reencoded(image, lossy_source=lossy)
    syntax = JPEGBaseline8Bit if lossy else ExplicitVRLittleEndian
    return Photo(pixels=pixels, transfer_syntax=syntax, taken=taken, kept_as_is=False)
