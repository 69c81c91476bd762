"""Studies for the viewer's tests and benchmark: a small CT, a DR image and a lateral thorax
with known geometry, generated with imaging.synthetic and indexed through imaging.ingest."""

from __future__ import annotations

import numpy as np
from pydicom.uid import generate_uid

from imaging.ingest import instance_receive_dataset
from imaging.models import Study
from imaging.synthetic import make_dataset

CT_SPACING = 0.7  # mm
DR_SPACING = 0.2  # mm, Pixel Spacing of the DR image
THORAX_SPACING = 0.3  # mm

# The lateral thorax: T4's cranial edge at column 200, every vertebra 40 px long; the heart's
# long axis 210 px and short axis 170 px. VHS = 210/40 + 170/40 = 5.25 + 4.25 = 9.5.
THORAX_VERTEBRAE = [(200 + 40 * i, 90) for i in range(5)]
THORAX_LONG_AXIS = [(230, 200), (230, 410)]
THORAX_SHORT_AXIS = [(145, 305), (315, 305)]
THORAX_VHS = 9.5


def _receive(ds) -> None:
    instance_receive_dataset(dataset=ds, calling_ae="VIEWER_TEST")


def ct_study(*, slices: int = 20, size: int = 128, patient_id: str = "P-CT") -> Study:
    """An axial CT series: `slices` images, 5 mm apart, with Pixel Spacing."""
    study_uid, series_uid, frame_of_reference = generate_uid(), generate_uid(), generate_uid()
    for number in range(1, slices + 1):
        ds = make_dataset(
            modality="CT", study_uid=study_uid, series_uid=series_uid, instance_number=number,
            rows=size, columns=size, patient_name="Jones^Bella", patient_id=patient_id,
            species="Canine", breed="Beagle", study_description="CT thorax",
            series_description="Axial thorax", view_position="", body_part="THORAX",
        )  # fmt: skip
        ds.PixelSpacing = [CT_SPACING, CT_SPACING]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0, 0, -5.0 * number]
        ds.SliceThickness = 5
        ds.FrameOfReferenceUID = frame_of_reference
        _receive(ds)
    return Study.objects.get(study_instance_uid=study_uid)


def dr_study(
    *, rows: int = 600, columns: int = 800, spacing: str = "pixel", patient_id: str = "P-DR"
) -> Study:
    """One DR image; `spacing` is "pixel" (Pixel Spacing), "imager" or "none"."""
    ds = make_dataset(
        modality="DX", rows=rows, columns=columns, patient_name="Smith^Rex", patient_id=patient_id,
        study_description="Pelvis VD", series_description="Pelvis VD", view_position="VD",
        body_part="PELVIS",
    )  # fmt: skip
    if spacing == "pixel":
        ds.PixelSpacing = [DR_SPACING, DR_SPACING]
    elif spacing == "imager":
        ds.ImagerPixelSpacing = [DR_SPACING, DR_SPACING]
    _receive(ds)
    return Study.objects.get(study_instance_uid=ds.StudyInstanceUID)


def lateral_thorax_study(*, patient_id: str = "P-VHS") -> Study:
    """A right lateral thorax (512×512) with vertebrae and a heart drawn at known places."""
    rows = columns = 512
    ds = make_dataset(
        modality="DX", rows=rows, columns=columns, patient_name="Smith^Rex", patient_id=patient_id,
        species="Canine", breed="Mixed", study_description="Thorax",
        series_description="Thorax R LAT", view_position="RL",
    )  # fmt: skip
    pixels = np.full((rows, columns), 300, dtype=np.uint16)
    y, x = np.mgrid[0:rows, 0:columns]
    for column, row in THORAX_VERTEBRAE[:-1]:
        pixels[(x >= column + 3) & (x <= column + 36) & (abs(y - row) < 18)] = 3000
    (lx, ly0), (_, ly1) = THORAX_LONG_AXIS
    (sx0, sy), (sx1, _) = THORAX_SHORT_AXIS
    cx, cy, a, b = (sx0 + sx1) / 2, (ly0 + ly1) / 2, (sx1 - sx0) / 2, (ly1 - ly0) / 2
    pixels[((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 <= 1] = 2200
    ds.PixelData = pixels.tobytes()
    ds.PixelSpacing = [THORAX_SPACING, THORAX_SPACING]
    _receive(ds)
    return Study.objects.get(study_instance_uid=ds.StudyInstanceUID)


def multiframe_study(*, frames: int = 12, patient_id: str = "P-US") -> Study:
    """An ultrasound cine loop (FrameTime 33.3 ms, CineRate 30)."""
    ds = make_dataset(
        modality="US", frames=frames, rows=96, columns=128, photometric="MONOCHROME2", bits=8,
        patient_id=patient_id, study_description="Abdomen US", series_description="Liver cine",
        view_position="",
    )  # fmt: skip
    _receive(ds)
    return Study.objects.get(study_instance_uid=ds.StudyInstanceUID)
