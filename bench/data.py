"""The benchmark's data sets: a CT series and a set of DR views, generated once and cached.

Files are written by pydicom from numpy arrays (the template comes from `imaging.synthetic`),
into `bench-data/<name>/` with a `manifest.json` written last, so an interrupted generation is
simply redone on the next run.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from pydicom import dcmwrite
from pydicom.uid import generate_uid

from imaging.synthetic import make_dataset

PATIENT = {
    "patient_id": "BENCH-0001",
    "patient_name": "Benchmark^Phantom",
    "species": "Canine",
    "breed": "Beagle",
    "responsible_person": "Benchmark^Clinic",
}


@dataclass(frozen=True)
class DataSet:
    """One study on disk, ready for `storescu +sd`."""

    name: str
    label: str
    directory: Path
    study_uid: str
    accession: str
    instances: int
    total_bytes: int

    @property
    def megabytes(self) -> float:
        return self.total_bytes / 1e6


def ct_series(root: Path, *, slices: int, size: int = 512) -> DataSet:
    """A `slices`-slice CT of `size`×`size` 16-bit pixels (one series), cached under `root`."""
    name = f"ct-{slices}x{size}x{size}"
    return _cached(root, name, lambda directory: _write_ct(directory, slices=slices, size=size))


def dr_views(root: Path, *, images: int, rows: int = 3000, columns: int = 2500) -> DataSet:
    """`images` DR views of `rows`×`columns` 16-bit pixels (one series per view), cached under `root`."""
    name = f"dr-{images}x{rows}x{columns}"
    return _cached(
        root,
        name,
        lambda directory: _write_dr(directory, images=images, rows=rows, columns=columns),
    )


def _cached(root: Path, name: str, generate) -> DataSet:
    directory = root / name
    manifest = directory / "manifest.json"
    if manifest.exists():
        fields = json.loads(manifest.read_text())
        return DataSet(**{**fields, "directory": directory / "dicom"})
    partial = root / f".{name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "dicom").mkdir(parents=True)
    started = time.monotonic()
    print(f"Generating {name} in {directory} (once; later runs reuse it) …", flush=True)
    dataset: DataSet = generate(partial / "dicom")
    fields = asdict(dataset)
    fields.pop("directory")
    (partial / "manifest.json").write_text(json.dumps(fields, indent=2))
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(partial, directory)
    print(
        f"  {dataset.instances} files, {dataset.megabytes:.0f} MB in {time.monotonic() - started:.1f} s",
        flush=True,
    )
    return DataSet(**{**fields, "directory": directory / "dicom"})


def _write_ct(directory: Path, *, slices: int, size: int) -> DataSet:
    study_uid, series_uid = generate_uid(), generate_uid()
    accession = "BENCHCT"
    ds = make_dataset(
        modality="CT",
        study_uid=study_uid,
        series_uid=series_uid,
        accession=accession,
        study_description="Benchmark CT thorax-abdomen",
        series_description=f"Axial {slices} slices",
        body_part="CHEST",
        view_position="",
        rows=size,
        columns=size,
        **PATIENT,
    )
    spacing = 0.7
    ds.PixelSpacing = [spacing, spacing]
    ds.SliceThickness = 1.0
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.FrameOfReferenceUID = generate_uid()
    total = 0
    for number, pixels in enumerate(_ct_phantom(slices, size), start=1):
        z = -float(slices) / 2 + number
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = number
        ds.ImagePositionPatient = [-size * spacing / 2, -size * spacing / 2, z]
        ds.SliceLocation = z
        ds.PixelData = pixels.tobytes()
        path = directory / f"CT{number:05d}.dcm"
        dcmwrite(path, ds, enforce_file_format=True)
        total += path.stat().st_size
    return DataSet(
        "ct", f"CT {slices}×{size}×{size}", directory, study_uid, accession, slices, total
    )


def _ct_phantom(slices: int, size: int):
    """Slices through an elliptic body with a sphere of bone, as 12-bit stored values (HU + 1024)."""
    y, x = np.ogrid[-1 : 1 : size * 1j, -1 : 1 : size * 1j]
    body = (x / 0.85) ** 2 + (y / 0.65) ** 2 < 1
    r2 = (x - 0.2) ** 2 + y**2
    soft = np.where(body, 1024 + 40, 24).astype(np.uint16)
    for index in range(slices):
        z = 2 * index / max(slices - 1, 1) - 1
        ball = r2 < max(0.0, 0.09 - (0.3 * z) ** 2)
        yield np.where(ball, np.uint16(1024 + 700), soft)


def _write_dr(directory: Path, *, images: int, rows: int, columns: int) -> DataSet:
    study_uid = generate_uid()
    accession = "BENCHDR"
    views = [
        ("RL", "Thorax R LAT"),
        ("LL", "Thorax L LAT"),
        ("VD", "Thorax VD"),
        ("DV", "Thorax DV"),
    ]
    total = 0
    for number in range(1, images + 1):
        view, description = views[(number - 1) % len(views)]
        ds = make_dataset(
            modality="DX",
            study_uid=study_uid,
            accession=accession,
            study_description="Benchmark DR thorax",
            series_description=description,
            series_number=number,
            view_position=view,
            rows=rows,
            columns=columns,
            **PATIENT,
        )
        if number % 2 == 0:  # mirror every other view so the images differ
            ds.PixelData = np.ascontiguousarray(ds.pixel_array[:, ::-1]).tobytes()
        path = directory / f"DX{number:03d}.dcm"
        dcmwrite(path, ds, enforce_file_format=True)
        total += path.stat().st_size
    return DataSet(
        "dr", f"DR {images}×{rows}×{columns}", directory, study_uid, accession, images, total
    )
