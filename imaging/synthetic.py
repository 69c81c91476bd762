"""Synthetic DICOM for demos, benchmarks and tests: any modality, photometric or transfer syntax.

Tests, `seed_demo` and `make bench` all generate their data here, so no binary fixture is kept.
"""

from __future__ import annotations

import copy
import io
from pathlib import Path

import numpy as np
from pydicom import Dataset, FileMetaDataset, dcmwrite
from pydicom.uid import (
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    SecondaryCaptureImageStorage,
    UltrasoundMultiFrameImageStorage,
    generate_uid,
)

SOP_CLASS_FOR_MODALITY = {
    "DX": DigitalXRayImageStorageForPresentation,
    "CR": "1.2.840.10008.5.1.4.1.1.1",
    "CT": CTImageStorage,
    "US": UltrasoundMultiFrameImageStorage,
    "IO": "1.2.840.10008.5.1.4.1.1.1.3",  # Digital Intra-Oral X-Ray Image Storage - For Presentation
    "OT": SecondaryCaptureImageStorage,
}


def gradient(rows: int, columns: int, *, bits: int = 16, signed: bool = False) -> np.ndarray:
    """A diagonal ramp with a bright disc, so rendering bugs (inversion, windowing) show."""
    y, x = np.mgrid[0:rows, 0:columns]
    top = (1 << (bits - (1 if signed else 0))) - 1
    ramp = (x + y) / max(rows + columns - 2, 1)
    disc = ((y - rows / 2) ** 2 + (x - columns / 2) ** 2) < (min(rows, columns) / 4) ** 2
    values = (ramp * 0.6 + disc * 0.4) * top
    dtype = {8: np.uint8, 16: np.uint16}[bits] if not signed else np.int16
    return values.astype(dtype)


def make_dataset(
    *,
    modality: str = "DX",
    study_uid: str | None = None,
    series_uid: str | None = None,
    sop_uid: str | None = None,
    patient_id: str | None = "P-1001",
    patient_name: str = "Smith^Rex",
    species: str = "Canine",
    breed: str = "Labrador Retriever",
    responsible_person: str = "Smith^John",
    sex: str = "M",
    neutered: str | None = "ALTERED",
    charset: str | None = None,
    accession: str = "A1001",
    study_description: str = "Thorax 3 view",
    series_description: str = "Thorax R LAT",
    series_number: int = 1,
    instance_number: int = 1,
    view_position: str = "RL",
    body_part: str = "THORAX",
    rows: int = 64,
    columns: int = 64,
    frames: int = 1,
    photometric: str = "MONOCHROME2",
    bits: int = 16,
    station_ae: str = "",
    pixel_data: bool = True,
) -> Dataset:
    """A complete, valid dataset in Explicit VR Little Endian with pixel data."""
    ds = Dataset()
    sop_class = SOP_CLASS_FOR_MODALITY.get(modality, SecondaryCaptureImageStorage)
    if modality == "US" and frames == 1:
        sop_class = "1.2.840.10008.5.1.4.1.1.6.1"  # Ultrasound Image Storage
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid or generate_uid()
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    if charset:
        ds.SpecificCharacterSet = charset
    ds.PatientName = patient_name
    if patient_id is not None:
        ds.PatientID = patient_id
    ds.PatientBirthDate = "20190402"
    ds.PatientSex = sex
    ds.PatientSpeciesDescription = species
    ds.PatientBreedDescription = breed
    ds.ResponsiblePerson = responsible_person
    ds.ResponsiblePersonRole = "OWNER"
    if neutered:
        ds.PatientSexNeutered = neutered
    ds.StudyDate = "20261123"
    ds.StudyTime = "101500"
    ds.StudyID = "1"
    ds.AccessionNumber = accession
    ds.StudyDescription = study_description
    ds.ReferringPhysicianName = "Vet^Anna"
    ds.Modality = modality
    ds.SeriesNumber = series_number
    ds.SeriesDescription = series_description
    ds.BodyPartExamined = body_part
    ds.ViewPosition = view_position
    ds.InstanceNumber = instance_number
    if station_ae:
        ds.StationName = station_ae
    if pixel_data:
        _add_pixels(
            ds, rows=rows, columns=columns, frames=frames, photometric=photometric, bits=bits
        )
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def _add_pixels(
    ds: Dataset, *, rows: int, columns: int, frames: int, photometric: str, bits: int
) -> None:
    ds.Rows, ds.Columns = rows, columns
    ds.PhotometricInterpretation = photometric
    if photometric in ("RGB", "YBR_FULL"):
        ds.SamplesPerPixel = 3
        ds.PlanarConfiguration = 0
        bits = 8
        grey = gradient(rows, columns, bits=8)
        pixels = np.stack([grey, grey[::-1], np.full_like(grey, 96)], axis=-1)
    elif photometric == "PALETTE COLOR":
        ds.SamplesPerPixel = 1
        bits = 8
        pixels = gradient(rows, columns, bits=8)
        ramp = np.arange(256, dtype=np.uint16) * 257
        ds.RedPaletteColorLookupTableDescriptor = [256, 0, 16]
        ds.GreenPaletteColorLookupTableDescriptor = [256, 0, 16]
        ds.BluePaletteColorLookupTableDescriptor = [256, 0, 16]
        ds.RedPaletteColorLookupTableData = ramp.tobytes()
        ds.GreenPaletteColorLookupTableData = ramp[::-1].copy().tobytes()
        ds.BluePaletteColorLookupTableData = np.full(256, 32768, dtype=np.uint16).tobytes()
    else:
        ds.SamplesPerPixel = 1
        pixels = gradient(rows, columns, bits=bits)
        if bits == 16:
            pixels = (pixels >> 4).astype(np.uint16)  # 12 bits stored, as a DR detector writes
            ds.WindowCenter = 2048
            ds.WindowWidth = 4096
    ds.BitsAllocated = bits
    ds.BitsStored = 12 if bits == 16 and ds.SamplesPerPixel == 1 else bits
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    if ds.Modality == "CT":
        ds.RescaleSlope = 1
        ds.RescaleIntercept = -1024
        ds.WindowCenter = 40 + 1024 - 1024
        ds.WindowWidth = 400
    if frames > 1:
        ds.NumberOfFrames = frames
        ds.FrameTime = 33.3
        ds.CineRate = 30
        pixels = np.stack([np.roll(pixels, shift=i * 2, axis=1) for i in range(frames)])
    ds.PixelData = pixels.tobytes()


def encode(ds: Dataset, transfer_syntax: str = ExplicitVRLittleEndian) -> Dataset:
    """The dataset re-encoded (compressed where the syntax is) in `transfer_syntax`."""
    from pydicom.uid import (
        JPEG2000,
        DeflatedExplicitVRLittleEndian,
        ExplicitVRBigEndian,
        JPEG2000Lossless,
        JPEGBaseline8Bit,
        JPEGExtended12Bit,
        JPEGLosslessSV1,
        JPEGLSLossless,
        JPEGLSNearLossless,
        RLELossless,
    )

    ds = copy.deepcopy(ds)
    if transfer_syntax in (
        ExplicitVRLittleEndian,
        ImplicitVRLittleEndian,
        DeflatedExplicitVRLittleEndian,
        ExplicitVRBigEndian,
    ):
        ds.file_meta.TransferSyntaxUID = transfer_syntax
        if transfer_syntax == ExplicitVRBigEndian and "PixelData" in ds and ds.BitsAllocated > 8:
            # OW values are written as given: swap them to big endian here (PS3.5 A.3).
            dtype = f"<u{ds.BitsAllocated // 8}"
            ds.PixelData = np.frombuffer(ds.PixelData, dtype=dtype).byteswap().tobytes()
            ds["PixelData"].VR = "OW"
        return ds
    if transfer_syntax in (JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLosslessSV1):
        return _encode_jpeg_with_pillow(ds, transfer_syntax)
    kwargs = {}
    if transfer_syntax == JPEGLSNearLossless:
        kwargs["jls_error"] = 2
    if transfer_syntax == JPEG2000:
        kwargs["j2k_cr"] = [20]
    if transfer_syntax in (
        JPEG2000,
        JPEG2000Lossless,
        RLELossless,
        JPEGLSLossless,
        JPEGLSNearLossless,
    ):
        if transfer_syntax == JPEG2000 and ds.PhotometricInterpretation == "RGB":
            kwargs["use_mct"] = False
        ds.compress(transfer_syntax, **kwargs)
        return ds
    raise ValueError(f"no encoder for {transfer_syntax}")


def _encode_jpeg_with_pillow(ds: Dataset, transfer_syntax: str) -> Dataset:
    """8-bit baseline JPEG through Pillow (pydicom has no JPEG encoder); other JPEG
    processes are sent as baseline-encoded frames relabelled only where the decoder allows."""
    from PIL import Image
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGBaseline8Bit

    if transfer_syntax != JPEGBaseline8Bit:
        raise ValueError("only JPEG Baseline is generated by the test factory")
    arr = ds.pixel_array
    frames = arr if getattr(ds, "NumberOfFrames", 1) > 1 else arr[None, ...]
    encoded = []
    for frame in frames:
        if frame.dtype != np.uint8:
            frame = (frame.astype(np.float64) / max(frame.max(), 1) * 255).astype(np.uint8)
        buffer = io.BytesIO()
        mode = "RGB" if frame.ndim == 3 else "L"
        Image.fromarray(frame, mode=mode).save(buffer, format="JPEG", quality=90)
        encoded.append(buffer.getvalue())
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    for key in ("WindowCenter", "WindowWidth", "RescaleSlope", "RescaleIntercept"):
        if key in ds:
            delattr(ds, key)
    if ds.SamplesPerPixel == 3:
        ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.PixelData = encapsulate(encoded)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    return ds


def to_bytes(ds: Dataset) -> bytes:
    """The dataset as a DICOM Part 10 file."""
    buffer = io.BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def write(ds: Dataset, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    dcmwrite(path, ds, enforce_file_format=True)
    return path


def study_files(
    directory: Path, *, count: int = 3, modality: str = "DX", **fields
) -> tuple[str, list[Path]]:
    """`count` instances of one study in one series, written to `directory`."""
    study_uid = fields.pop("study_uid", None) or generate_uid()
    series_uid = fields.pop("series_uid", None) or generate_uid()
    paths = []
    for number in range(1, count + 1):
        ds = make_dataset(
            modality=modality,
            study_uid=study_uid,
            series_uid=series_uid,
            instance_number=number,
            **fields,
        )
        paths.append(write(ds, directory / f"{number:04d}.dcm"))
    return study_uid, paths
