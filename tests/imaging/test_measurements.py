"""Measurement math against hand-computed cases: calibration, lines, angles, VHS, Norberg, TPA,
regions of interest."""

import math

import numpy as np
import pytest

from imaging import measurements as m
from imaging.annotation_values import geometry_clean, values_measure
from imaging.measurements import Calibration, GeometryError

# Pixel Spacing [row spacing, column spacing]: rows 0.5 mm apart, columns 0.25 mm apart.
ANISOTROPIC = m.calibration_from_header(pixel_spacing=[0.5, 0.25])


def by_name(values: list[dict]) -> dict:
    return {v["name"]: (v["value"], v["unit"]) for v in values}


# --- Calibration sources ---------------------------------------------------------------------


def test_pixel_spacing_is_row_spacing_then_column_spacing():
    assert ANISOTROPIC.source == "pixel_spacing"
    assert (ANISOTROPIC.row_mm, ANISOTROPIC.column_mm) == (0.5, 0.25)
    # 8 columns across uses the column spacing; 8 rows down uses the row spacing.
    assert m.length([[0, 0], [8, 0]], ANISOTROPIC) == pytest.approx(2.0)
    assert m.length([[0, 0], [0, 8]], ANISOTROPIC) == pytest.approx(4.0)
    assert m.length([[1, 1], [9, 7]], ANISOTROPIC) == pytest.approx(math.hypot(2.0, 3.0))


def test_pixel_spacing_wins_over_imager_pixel_spacing():
    calibration = m.calibration_from_header(
        pixel_spacing=[0.1, 0.1], imager_pixel_spacing=[0.2, 0.2]
    )
    assert calibration.source == "pixel_spacing"
    assert calibration.column_mm == 0.1


def test_imager_pixel_spacing_is_noted_as_measured_at_the_detector():
    calibration = m.calibration_from_header(imager_pixel_spacing=[0.2, 0.2])
    assert calibration.source == "imager_pixel_spacing"
    assert calibration.note == "measured at the detector"
    assert m.length([[0, 0], [10, 0]], calibration) == pytest.approx(2.0)


def test_imager_pixel_spacing_is_corrected_for_a_recorded_magnification():
    calibration = m.calibration_from_header(imager_pixel_spacing=[0.2, 0.2], magnification=1.25)
    assert calibration.column_mm == pytest.approx(0.16)
    assert "measured at the detector" in calibration.note
    assert "magnification ×1.25" in calibration.note


@pytest.mark.parametrize("spacing", [None, [], [0, 0.1], ["x", "y"], [0.1]])
def test_missing_or_nonsense_spacing_means_pixels(spacing):
    calibration = m.calibration_from_header(pixel_spacing=spacing)
    assert calibration.source == "none"
    assert calibration.unit == "px"
    assert calibration.note == "not calibrated: pixels"
    assert m.length([[0, 0], [3, 4]], calibration) == 5.0


def test_manual_calibration_on_an_uncalibrated_image_takes_square_pixels():
    calibration = m.calibration_manual([[0, 0], [30, 40]], 25.0, m.UNCALIBRATED)
    assert calibration.source == "manual"
    assert calibration.row_mm == calibration.column_mm == pytest.approx(0.5)  # 25 mm / 50 px
    assert "25 mm" in calibration.note


def test_manual_calibration_keeps_the_pixel_aspect_of_the_image():
    # 40 columns measure 10 mm by Pixel Spacing; a 20 mm ball says everything is twice as big.
    calibration = m.calibration_manual([[0, 0], [40, 0]], 20.0, ANISOTROPIC)
    assert (calibration.row_mm, calibration.column_mm) == (pytest.approx(1.0), pytest.approx(0.5))


def test_a_calibration_line_without_length_is_refused():
    with pytest.raises(GeometryError):
        m.calibration_manual([[5, 5], [5, 5]], 10.0, m.UNCALIBRATED)


# --- Angles ----------------------------------------------------------------------------------


def test_angle_at_the_vertex():
    assert m.angle([[10, 0], [0, 0], [0, 10]], m.UNCALIBRATED) == pytest.approx(90.0)
    assert m.angle([[10, 0], [0, 0], [-10, 0]], m.UNCALIBRATED) == pytest.approx(180.0)
    assert m.angle([[10, 0], [0, 0], [10, 10]], m.UNCALIBRATED) == pytest.approx(45.0)


def test_angles_are_measured_in_mm_on_non_square_pixels():
    # Rows 1 mm apart, columns 0.5 mm apart: 2 columns and 1 row is 1 mm by 1 mm, i.e. 45°,
    # although on the pixel grid the arm rises at atan(1/2) = 26.57°.
    calibration = m.calibration_from_header(pixel_spacing=[1.0, 0.5])
    assert m.angle([[2, 0], [0, 0], [2, 1]], calibration) == pytest.approx(45.0)
    assert m.angle([[2, 0], [0, 0], [2, 1]], m.UNCALIBRATED) == pytest.approx(26.565, abs=1e-3)


def test_cobb_angle_is_between_the_two_lines_and_at_most_90():
    rise = 10 * math.tan(math.radians(30))
    a, b = [[0, 0], [10, 0]], [[0, 10], [10, 10 + rise]]
    assert m.cobb(a + b, m.UNCALIBRATED) == pytest.approx(30.0)
    # Drawing line b the other way round is the same pair of lines.
    assert m.cobb(a + b[::-1], m.UNCALIBRATED) == pytest.approx(30.0)
    steep = [[0, 10], [10, 10 + 10 * math.tan(math.radians(120))]]
    assert m.cobb(a + steep, m.UNCALIBRATED) == pytest.approx(60.0)


def test_an_angle_with_a_zero_length_arm_is_refused():
    with pytest.raises(GeometryError):
        m.angle([[0, 0], [0, 0], [1, 1]], m.UNCALIBRATED)


# --- Vertebral heart score -------------------------------------------------------------------

# Vertebral borders at x = 0, 10, 22, 32, 44: vertebrae of 10, 12, 10 and 12 px (mean 11).
VERTEBRAE = [[0, 0], [10, 0], [22, 0], [32, 0], [44, 0]]


def test_vertebral_units_walk_whole_vertebrae_then_the_fraction_of_the_next():
    segments = [10, 12, 10, 12]
    assert m.vertebral_units(27, segments) == pytest.approx(2.5)  # 10 + 12 + 5/10
    assert m.vertebral_units(10, segments) == pytest.approx(1.0)  # exactly one vertebra
    assert m.vertebral_units(4, segments) == pytest.approx(0.4)


def test_beyond_the_last_marked_vertebra_the_mean_length_counts():
    # 44 px cover all four marked vertebrae; the 6 px beyond are 6/11 of the mean vertebra.
    assert m.vertebral_units(50, [10, 12, 10, 12]) == pytest.approx(4 + 6 / 11)


def test_vertebral_heart_score_adds_long_and_short_axes_to_a_tenth():
    score = m.vertebral_heart_score([[0, 5], [27, 5]], [[0, 0], [0, 50]], VERTEBRAE, m.UNCALIBRATED)
    assert score.long_units == pytest.approx(2.5)
    assert score.short_units == pytest.approx(4 + 6 / 11)
    assert score.vhs == 7.0  # 7.045 to a tenth


def test_vertebral_heart_score_is_measured_in_mm_on_non_square_pixels():
    # Vertebrae run down the image: 20 rows = 10 mm each. The long axis runs across: 80
    # columns = 20 mm = 2 vertebrae (on the pixel grid it would wrongly be 4).
    vertebrae = [[0, 0], [0, 20], [0, 40]]
    score = m.vertebral_heart_score([[0, 0], [80, 0]], [[0, 0], [40, 0]], vertebrae, ANISOTROPIC)
    assert score.long_units == pytest.approx(2.0)
    assert score.short_units == pytest.approx(1.0)
    assert score.long_length == pytest.approx(20.0)


def test_vertebral_heart_score_needs_two_distinct_borders():
    with pytest.raises(GeometryError):
        m.vertebral_heart_score(
            [[0, 0], [1, 0]], [[0, 0], [1, 0]], [[3, 3], [3, 3]], m.UNCALIBRATED
        )


def test_vhs_values_carry_the_reference_and_the_assessment():
    reference = m.vhs_reference("canine", "Boxer")
    geometry = geometry_clean(
        "vhs",
        {"long_axis": [[0, 0], [0, 66]], "short_axis": [[0, 0], [55, 0]], "vertebrae": VERTEBRAE},
    )
    values = by_name(values_measure("vhs", geometry, m.UNCALIBRATED, reference=reference))
    # Long 66 px: 44 marked (4 v) + 22/11 = 6.0 v; short 55 px: 4 + 11/11 = 5.0 v.
    assert values["long_axis"] == (6.0, "v")
    assert values["short_axis"] == (5.0, "v")
    assert values["vhs"] == (11.0, "v")
    assert "long_axis_mm" not in values  # uncalibrated
    assert values["reference"] == ("11.6 ± 0.8", "v")
    assert values["assessment"][0] == "within"  # 10.0–13.2


def test_vhs_above_the_dog_range_is_said_so():
    geometry = geometry_clean(
        "vhs",
        {"long_axis": [[0, 0], [0, 66]], "short_axis": [[0, 0], [55, 0]], "vertebrae": VERTEBRAE},
    )
    values = by_name(
        values_measure("vhs", geometry, ANISOTROPIC, reference=m.vhs_reference("canine", ""))
    )
    assert values["assessment"][0] == "above"  # VHS beyond 9.7 + 2 × 0.5
    assert values["long_axis_mm"][1] == "mm"


@pytest.mark.parametrize(
    ("species", "breed", "label", "mean", "sd"),
    [
        ("canine", "", "Dog", 9.7, 0.5),
        ("Dog", "Mixed", "Dog", 9.7, 0.5),
        ("feline", "Domestic shorthair", "Cat", 7.5, 0.3),
        ("canine", "Labrador Retriever", "Labrador retriever", 10.8, 0.6),
        ("canine", "Cavalier King Charles Spaniel", "Cavalier King Charles spaniel", 10.6, 0.5),
        ("canine", "English Bulldog", "Bulldog", 12.7, 1.7),
        ("canine", "French Bulldog", "Dog", 9.7, 0.5),  # not the breed studied
        ("canine", "Pug", "Pug", 10.7, 0.9),
        ("canine", "Whippet", "Whippet", 11.0, 0.5),
        ("canine", "German Shepherd Dog", "German shepherd", 9.7, 0.7),
        ("canine", "Shih-Tzu", "Shih Tzu", 9.5, 0.6),
    ],
)
def test_vhs_reference_by_species_and_breed(species, breed, label, mean, sd):
    reference = m.vhs_reference(species, breed)
    assert (reference["label"], reference["mean"], reference["sd"]) == (label, mean, sd)
    assert reference["note"]


def test_no_vhs_reference_for_species_without_one():
    assert m.vhs_reference("equine", "Arabian") is None


# --- Norberg angle and tibial plateau angle ---------------------------------------------------


def test_norberg_angle_on_both_sides_and_the_laxity_flag():
    # Heads 100 px apart on a row. Left rim up and outwards at 45°: 135°. Right rim straight
    # up from its centre: 90°, below 105°.
    geometry = geometry_clean(
        "norberg",
        {
            "left": {"center": [0, 0], "radius": 20, "rim": [-10, -10]},
            "right": {"center": [100, 0], "radius": 20, "rim": [100, -10]},
        },
    )
    left, right = m.norberg(geometry["left"], geometry["right"], m.UNCALIBRATED)
    assert (left, right) == (pytest.approx(135.0), pytest.approx(90.0))
    values = by_name(values_measure("norberg", geometry, m.UNCALIBRATED))
    assert values["norberg_left"] == (135.0, "°")
    assert values["norberg_right"] == (90.0, "°")
    assert values["flag"][0] == "right below 105°: suggests hip laxity"


def test_norberg_without_laxity_has_no_flag():
    geometry = geometry_clean(
        "norberg",
        {
            "left": {"center": [0, 0], "radius": 20, "rim": [-10, -10]},
            "right": {"center": [100, 0], "radius": 20, "rim": [110, -10]},
        },
    )
    assert "flag" not in by_name(values_measure("norberg", geometry, m.UNCALIBRATED))


def test_tibial_plateau_angle_against_the_perpendicular_to_the_functional_axis():
    # Axis straight down; the plateau falls 100·tan(20°) towards caudal over 100 px.
    drop = 100 * math.tan(math.radians(20))
    plateau, axis = [[50, 40], [-50, 40 - drop]], [[0, 30], [0, 300]]
    assert m.tibial_plateau_angle(plateau, axis, m.UNCALIBRATED) == pytest.approx(20.0)


def test_tibial_plateau_angle_does_not_depend_on_how_the_leg_lies_in_the_image():
    drop = 100 * math.tan(math.radians(23))
    plateau, axis = [[50, 40], [-50, 40 - drop]], [[0, 30], [0, 300]]
    turn = math.radians(37)

    def rotate(p):
        return [
            p[0] * math.cos(turn) - p[1] * math.sin(turn),
            p[0] * math.sin(turn) + p[1] * math.cos(turn),
        ]

    rotated = m.tibial_plateau_angle(
        [rotate(p) for p in plateau], [rotate(p) for p in axis], m.UNCALIBRATED
    )
    assert rotated == pytest.approx(23.0)


# --- Regions of interest ---------------------------------------------------------------------

GRID = np.arange(100, dtype=np.int16).reshape(10, 10)  # value = 10 × row + column


def test_rectangle_statistics_over_the_pixels_inside():
    # Columns 2–4, rows 3–5: 32 33 34 / 42 43 44 / 52 53 54.
    stats = m.roi_statistics("rectangle", [[4, 5], [2, 3]], GRID)
    assert stats["count"] == 9
    assert stats["mean"] == pytest.approx(43.0)
    assert stats["min"] == 32.0 and stats["max"] == 54.0
    assert stats["sd"] == pytest.approx(math.sqrt(606 / 9))  # population SD


def test_ellipse_takes_the_pixel_centres_inside_it():
    # A circle of radius 4 about (4, 4): the 49 grid points with dx² + dy² ≤ 16.
    mask = m.roi_mask("ellipse", [[0, 0], [8, 8]], (10, 10))
    assert mask.sum() == 49
    stats = m.roi_statistics("ellipse", [[0, 0], [8, 8]], GRID)
    assert stats["mean"] == pytest.approx(44.0)  # symmetric about the centre pixel 44


def test_roi_area_in_mm_squared_and_in_pixels():
    assert m.roi_area("rectangle", [[0, 0], [8, 8]], m.UNCALIBRATED) == pytest.approx(64.0)
    assert m.roi_area("ellipse", [[0, 0], [8, 8]], m.UNCALIBRATED) == pytest.approx(16 * math.pi)
    # 8 columns × 0.25 mm by 8 rows × 0.5 mm: 2 mm × 4 mm.
    assert m.roi_area("rectangle", [[0, 0], [8, 8]], ANISOTROPIC) == pytest.approx(8.0)
    assert m.roi_area("ellipse", [[0, 0], [8, 8]], ANISOTROPIC) == pytest.approx(2 * math.pi)


def test_roi_values_name_their_units():
    geometry = geometry_clean("rectangle", {"points": [[2, 3], [4, 5]]})
    values = by_name(
        values_measure("rectangle", geometry, ANISOTROPIC, pixels=GRID, pixel_unit="HU")
    )
    assert values["area"] == (0.5, "mm²")  # 2 columns × 0.25 by 2 rows × 0.5
    assert values["mean"] == (43.0, "HU")
    assert values["pixels"] == (9, "")


# --- Geometry checks -------------------------------------------------------------------------


def test_geometry_is_cleaned_to_floats_and_known_keys():
    clean = geometry_clean("length", {"points": [[1, 2], [3, 4]], "handles": "x"})
    assert clean == {"points": [[1.0, 2.0], [3.0, 4.0]]}


@pytest.mark.parametrize(
    ("tool", "geometry"),
    [
        ("length", {"points": [[1, 2], [3, True]]}),
        ("length", {"points": [[1, 2], [3, float("nan")]]}),
        ("cobb", {"points": [[0, 0], [1, 1], [2, 2]]}),
        (
            "vhs",
            {"long_axis": [[0, 0], [1, 1]], "short_axis": [[0, 0], [1, 1]], "vertebrae": [[0, 0]]},
        ),
        ("tpa", {"plateau": [[0, 0], [1, 1]]}),
        ("norberg", {"left": {"center": [0, 0], "radius": -1, "rim": [1, 1]}, "right": {}}),
        ("calibration", {"points": [[0, 0], [1, 1]]}),
        ("rectangle", {"points": [[0, 0], [5, 0]]}),
        ("length", [[0, 0], [1, 1]]),
    ],
)
def test_unfit_geometry_is_refused(tool, geometry):
    with pytest.raises(GeometryError):
        geometry_clean(tool, geometry)


def test_a_calibration_value_list_names_the_line_and_the_known_length():
    geometry = geometry_clean("calibration", {"points": [[0, 0], [30, 40]], "known_mm": 25})
    values = by_name(values_measure("calibration", geometry, Calibration()))
    assert values == {"line_length": (50.0, "px"), "known_length": (25.0, "mm")}
