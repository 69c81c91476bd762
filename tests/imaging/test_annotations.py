"""Annotation services: calibration read from the image, ROI statistics from the stored
pixels, and the vertebral heart score against the patient's breed."""

import numpy as np
import pytest
from pydicom import Dataset
from pydicom.sequence import Sequence

from imaging import synthetic
from imaging.annotations import annotation_create, header_calibration, image_calibration
from imaging.ingest import instance_receive_dataset
from imaging.models import Instance


def values(annotation) -> dict:
    return {v["name"]: (v["value"], v["unit"]) for v in annotation.values}


def _measures(row: float, column: float) -> Dataset:
    measures = Dataset()
    measures.PixelSpacing = [row, column]
    group = Dataset()
    group.PixelMeasuresSequence = Sequence([measures])
    return group


def test_enhanced_multiframe_spacing_comes_from_the_functional_groups():
    ds = Dataset()
    ds.SharedFunctionalGroupsSequence = Sequence([_measures(0.3, 0.3)])
    ds.PerFrameFunctionalGroupsSequence = Sequence([Dataset(), _measures(0.6, 0.4)])
    assert header_calibration(ds, 1).row_mm == pytest.approx(0.3)  # shared
    second = header_calibration(ds, 2)  # its own
    assert (second.row_mm, second.column_mm) == (pytest.approx(0.6), pytest.approx(0.4))
    assert second.source == "pixel_spacing"


def test_a_recorded_magnification_corrects_imager_pixel_spacing():
    ds = Dataset()
    ds.ImagerPixelSpacing = [0.15, 0.15]
    ds.EstimatedRadiographicMagnificationFactor = 1.5
    calibration = header_calibration(ds)
    assert calibration.column_mm == pytest.approx(0.1)
    assert calibration.source == "imager_pixel_spacing"
    assert "magnification" in calibration.note


@pytest.fixture
def ct() -> Instance:
    """A CT slice stored at value + 1024 (intercept −1024): 40 HU in the top half of a
    10 × 10 block, 60 HU in the bottom half, −1000 HU elsewhere."""
    ds = synthetic.make_dataset(modality="CT", rows=32, columns=32)
    stored = np.full((32, 32), 24, dtype=np.uint16)
    stored[10:15, 20:30] = 1024 + 40
    stored[15:20, 20:30] = 1024 + 60
    ds.PixelData = stored.tobytes()
    ds.PixelSpacing = [0.5, 0.5]
    return instance_receive_dataset(dataset=ds).instance


@pytest.mark.django_db
def test_rectangle_statistics_are_in_hounsfield_units(vet, ct):
    annotation = annotation_create(
        study=ct.series.study, author=vet, sop_instance_uid=ct.sop_instance_uid, frame=1,
        tool="rectangle", geometry={"points": [[20, 10], [29, 19]]},
    )  # fmt: skip
    measured = values(annotation)
    assert measured["mean"] == (50.0, "HU")
    assert measured["sd"] == (10.0, "HU")
    assert measured["min"] == (40.0, "HU")
    assert measured["max"] == (60.0, "HU")
    assert measured["pixels"] == (100, "")
    assert measured["area"] == (20.25, "mm²")  # 9 × 0.5 mm square, corner to corner


@pytest.mark.django_db
def test_ellipse_statistics_take_only_the_pixels_inside(vet, ct):
    # A circle of radius 4 about (24, 16): rows 12–19 lie in the block (both halves), and its
    # lowest point, row 20, is air below it.
    annotation = annotation_create(
        study=ct.series.study, author=vet, sop_instance_uid=ct.sop_instance_uid, frame=1,
        tool="ellipse", geometry={"points": [[20, 12], [28, 20]]},
    )  # fmt: skip
    measured = values(annotation)
    assert measured["pixels"] == (49, "")
    assert measured["min"] == (-1000.0, "HU")  # row 20 is outside the block
    assert measured["max"] == (60.0, "HU")


@pytest.mark.django_db
def test_vhs_uses_the_patients_breed_reference(vet):
    ds = synthetic.make_dataset(modality="DX", rows=128, columns=128, breed="Labrador Retriever")
    ds.PixelSpacing = [0.2, 0.2]
    image = instance_receive_dataset(dataset=ds).instance
    patient = image.series.study.patient
    assert (patient.species, patient.breed) == ("canine", "Labrador Retriever")
    # Vertebrae of 10 px; long axis 60 px = 6.0 v, short axis 45 px = 4.5 v: VHS 10.5.
    annotation = annotation_create(
        study=image.series.study, author=vet, sop_instance_uid=image.sop_instance_uid, frame=1,
        tool="vhs", geometry={
            "long_axis": [[10, 10], [10, 70]], "short_axis": [[20, 20], [65, 20]],
            "vertebrae": [[0, 100], [10, 100], [20, 100], [30, 100], [40, 100]],
        },
    )  # fmt: skip
    measured = values(annotation)
    assert measured["vhs"] == (10.5, "v")
    assert measured["long_axis_mm"] == (12.0, "mm")
    assert measured["reference"] == ("10.8 ± 0.6", "v")
    assert "Lamb" in next(v["label"] for v in annotation.values if v["name"] == "reference")
    assert measured["assessment"] == ("within", "")


@pytest.mark.django_db
def test_the_latest_manual_calibration_on_the_image_wins(vet):
    ds = synthetic.make_dataset(modality="DX")
    ds.ImagerPixelSpacing = [0.1, 0.1]
    image = instance_receive_dataset(dataset=ds).instance
    assert image_calibration(instance=image, frame=1).source == "imager_pixel_spacing"
    for known in (20, 30):
        annotation_create(
            study=image.series.study, author=vet, sop_instance_uid=image.sop_instance_uid,
            frame=1, tool="calibration", geometry={"points": [[0, 0], [10, 0]], "known_mm": known},
        )  # fmt: skip
    calibration = image_calibration(instance=image, frame=1)
    assert calibration.source == "manual"
    assert calibration.column_mm == pytest.approx(3.0)
