"""Measurement math on image pixel coordinates: calibration, lengths, angles, ROI statistics,
vertebral heart score, Norberg angle and tibial plateau angle.

Pure functions, no Django. Points are `[column, row]` in image pixels. A `Calibration` turns a
pixel step into millimetres: Pixel Spacing (0028,0030) is `[row spacing, column spacing]`, so
a step along a row (a column difference, dx) is scaled by the *column* spacing and a step down
a column (dy) by the *row* spacing. Angles are measured after scaling to millimetres, so they
stay true on images with non-square pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Point = Sequence[float]

PIXEL_SPACING = "pixel_spacing"
IMAGER_PIXEL_SPACING = "imager_pixel_spacing"
MANUAL = "manual"
NONE = "none"

NORBERG_LAXITY_DEGREES = 105.0


class GeometryError(ValueError):
    """The geometry drawn does not fit the tool; the message is shown to the person, under
    `field` ("geometry", or "text" where the text is what is missing)."""

    def __init__(self, message: str, field: str = "geometry"):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Calibration:
    """How big one pixel is, where that came from, and a note a person can read."""

    source: str = NONE
    row_mm: float | None = None  # distance between rows: vertical
    column_mm: float | None = None  # distance between columns: horizontal
    note: str = "not calibrated: pixels"

    @property
    def calibrated(self) -> bool:
        return self.row_mm is not None and self.column_mm is not None

    @property
    def unit(self) -> str:
        return "mm" if self.calibrated else "px"

    def scaled(self, point: Point) -> tuple[float, float]:
        """The point in millimetres (calibrated) or pixels, as (x, y)."""
        x, y = float(point[0]), float(point[1])
        if self.calibrated:
            return x * self.column_mm, y * self.row_mm
        return x, y


UNCALIBRATED = Calibration()


def _positive_pair(value) -> tuple[float, float] | None:
    try:
        row, column = float(value[0]), float(value[1])
    except (TypeError, ValueError, IndexError):
        return None
    if not (row > 0 and column > 0 and math.isfinite(row) and math.isfinite(column)):
        return None
    return row, column


def calibration_from_header(
    *, pixel_spacing=None, imager_pixel_spacing=None, magnification: float | None = None
) -> Calibration:
    """The image's own calibration: Pixel Spacing, else Imager Pixel Spacing, else none.

    Imager Pixel Spacing is measured at the detector, so an object away from it looks larger;
    when the modality recorded the Estimated Radiographic Magnification Factor (0018,1114) the
    spacing is divided by it (PS3.3 C.8.11.1.1.1) and the note says so.
    """
    spacing = _positive_pair(pixel_spacing) if pixel_spacing is not None else None
    if spacing:
        return Calibration(PIXEL_SPACING, spacing[0], spacing[1], "pixel spacing")
    spacing = _positive_pair(imager_pixel_spacing) if imager_pixel_spacing is not None else None
    if spacing:
        if magnification and magnification > 0 and magnification != 1:
            return Calibration(
                IMAGER_PIXEL_SPACING,
                spacing[0] / magnification,
                spacing[1] / magnification,
                f"measured at the detector, corrected for magnification ×{magnification:g}",
            )
        return Calibration(IMAGER_PIXEL_SPACING, spacing[0], spacing[1], "measured at the detector")
    return UNCALIBRATED


def calibration_manual(points: Sequence[Point], known_mm: float, base: Calibration) -> Calibration:
    """A calibration from a line of known length drawn on the image.

    Where the image already has a (possibly non-square) spacing, both directions are scaled by
    the same factor, keeping the pixel aspect; otherwise pixels are taken as square.
    """
    pixels = length(points, UNCALIBRATED)
    if pixels <= 0:
        raise GeometryError("The calibration line has no length.")
    if base.calibrated:
        factor = known_mm / length(points, base)
        row_mm, column_mm = base.row_mm * factor, base.column_mm * factor
    else:
        row_mm = column_mm = known_mm / pixels
    return Calibration(MANUAL, row_mm, column_mm, f"manual calibration: {known_mm:g} mm line")


# --- Lines and angles ------------------------------------------------------------------------


def length(points: Sequence[Point], calibration: Calibration) -> float:
    (x1, y1), (x2, y2) = calibration.scaled(points[0]), calibration.scaled(points[1])
    return math.hypot(x2 - x1, y2 - y1)


def _vector(start: Point, end: Point, calibration: Calibration) -> tuple[float, float]:
    (x1, y1), (x2, y2) = calibration.scaled(start), calibration.scaled(end)
    return x2 - x1, y2 - y1


def _angle_between(u: tuple[float, float], v: tuple[float, float]) -> float:
    """Angle between two vectors in degrees, 0–180."""
    norm = math.hypot(*u) * math.hypot(*v)
    if norm == 0:
        raise GeometryError("Two points of the angle are the same point.")
    cos = (u[0] * v[0] + u[1] * v[1]) / norm
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def _line_angle(u: tuple[float, float], v: tuple[float, float]) -> float:
    """Angle between two undirected lines, 0–90 degrees."""
    angle = _angle_between(u, v)
    return min(angle, 180.0 - angle)


def angle(points: Sequence[Point], calibration: Calibration) -> float:
    """The angle at `points[1]` between the arms to `points[0]` and `points[2]`, 0–180°."""
    a, vertex, b = points
    return _angle_between(_vector(vertex, a, calibration), _vector(vertex, b, calibration))


def cobb(points: Sequence[Point], calibration: Calibration) -> float:
    """The Cobb angle: between line a (points 0–1) and line b (points 2–3), 0–90°."""
    a1, a2, b1, b2 = points
    return _line_angle(_vector(a1, a2, calibration), _vector(b1, b2, calibration))


def norberg(left: dict, right: dict, calibration: Calibration) -> tuple[float, float]:
    """Norberg angle per side (left, right): at the femoral head centre, between the line to
    the other head's centre and the line to that side's craniolateral acetabular rim."""
    lc, rc = left["center"], right["center"]
    left_angle = _angle_between(_vector(lc, rc, calibration), _vector(lc, left["rim"], calibration))
    right_angle = _angle_between(
        _vector(rc, lc, calibration), _vector(rc, right["rim"], calibration)
    )
    return left_angle, right_angle


def tibial_plateau_angle(
    plateau: Sequence[Point], axis: Sequence[Point], calibration: Calibration
) -> float:
    """TPA: between the tibial plateau line and the perpendicular to the functional axis."""
    ax, ay = _vector(axis[0], axis[1], calibration)
    perpendicular = (-ay, ax)
    return _line_angle(_vector(plateau[0], plateau[1], calibration), perpendicular)


# --- Vertebral heart score (Buchanan & Bücheler 1995) -----------------------------------------


def vertebral_segments(vertebrae: Sequence[Point], calibration: Calibration) -> list[float]:
    """Lengths of the marked vertebrae, from each marked border to the next."""
    return [length([a, b], calibration) for a, b in zip(vertebrae, vertebrae[1:], strict=False)]


def vertebral_units(distance: float, segments: Sequence[float]) -> float:
    """A distance in vertebrae: whole vertebrae while it covers them, then the fraction of the
    next; beyond the last marked vertebra, the mean vertebral length is the unit."""
    units = 0.0
    for segment in segments:
        if distance >= segment:
            units += 1
            distance -= segment
        else:
            return units + distance / segment
    if distance > 0:
        units += distance / (sum(segments) / len(segments))
    return units


@dataclass(frozen=True)
class HeartScore:
    long_units: float
    short_units: float
    long_length: float
    short_length: float

    @property
    def vhs(self) -> float:
        return round(self.long_units + self.short_units, 1)


def vertebral_heart_score(
    long_axis: Sequence[Point],
    short_axis: Sequence[Point],
    vertebrae: Sequence[Point],
    calibration: Calibration,
) -> HeartScore:
    segments = vertebral_segments(vertebrae, calibration)
    if not segments or min(segments) <= 0:
        raise GeometryError("Mark at least two distinct vertebral borders from the cranial T4.")
    long_length, short_length = length(long_axis, calibration), length(short_axis, calibration)
    return HeartScore(
        long_units=vertebral_units(long_length, segments),
        short_units=vertebral_units(short_length, segments),
        long_length=long_length,
        short_length=short_length,
    )


# Published reference values (lateral radiographs, mean ± SD in vertebrae).
_BUCHANAN_1995 = "Buchanan & Bücheler 1995"
_LITSTER_2000 = "Litster & Buchanan 2000"
_LAMB_2001 = "Lamb et al. 2001"
_JEPSEN_GRANT_2013 = "Jepsen-Grant et al. 2013"
_BAVEGEMS_2005 = "Bavegems et al. 2005"

# (names a breed goes by, names that must not match, label, mean, sd, source)
_DOG_BREEDS: list[tuple[tuple[str, ...], tuple[str, ...], str, float, float, str]] = [
    (("pug",), (), "Pug", 10.7, 0.9, _JEPSEN_GRANT_2013),
    (("pomeranian",), (), "Pomeranian", 10.5, 0.9, _JEPSEN_GRANT_2013),
    (("bulldog",), ("french", "american"), "Bulldog", 12.7, 1.7, _JEPSEN_GRANT_2013),
    (("boston terrier",), (), "Boston terrier", 11.7, 1.4, _JEPSEN_GRANT_2013),
    (("shih tzu", "shih-tzu", "shihtzu"), (), "Shih Tzu", 9.5, 0.6, _JEPSEN_GRANT_2013),
    (("dachshund", "teckel"), (), "Dachshund", 9.7, 0.5, _JEPSEN_GRANT_2013),
    (("lhasa apso", "lhasa"), (), "Lhasa apso", 9.6, 0.8, _JEPSEN_GRANT_2013),
    (("yorkshire", "yorkie"), (), "Yorkshire terrier", 9.7, 0.5, _JEPSEN_GRANT_2013),
    (("boxer",), (), "Boxer", 11.6, 0.8, _LAMB_2001),
    (("labrador",), (), "Labrador retriever", 10.8, 0.6, _LAMB_2001),
    (("german shepherd", "alsatian"), (), "German shepherd", 9.7, 0.7, _LAMB_2001),
    (("cavalier", "ckcs"), (), "Cavalier King Charles spaniel", 10.6, 0.5, _LAMB_2001),
    (("doberman",), (), "Dobermann", 10.0, 0.6, _LAMB_2001),
    (("whippet",), (), "Whippet", 11.0, 0.5, _BAVEGEMS_2005),
]
_DOG_SPECIES = {"canine", "dog", "canis familiaris", "canis lupus familiaris"}
_CAT_SPECIES = {"feline", "cat", "felis catus", "felis silvestris catus"}


def vhs_reference(species: str, breed: str) -> dict | None:
    """The reference VHS for a patient: breed-specific where published, else the species'.

    `species` is the patient's species ("canine", "feline", or words such as "Dog"); returns
    {"label", "mean", "sd", "note"} or None where no reference is known.
    """
    species_key = (species or "").strip().lower()
    breed_key = " ".join((breed or "").lower().replace("-", " ").split())
    if species_key in _CAT_SPECIES:
        return {
            "label": "Cat",
            "mean": 7.5,
            "sd": 0.3,
            "note": f"{_LITSTER_2000}, lateral view",
        }
    if species_key not in _DOG_SPECIES:
        return None
    for names, excluded, label, mean, sd, source in _DOG_BREEDS:
        if any(name in breed_key for name in names) and not any(
            word in breed_key for word in excluded
        ):
            return {"label": label, "mean": mean, "sd": sd, "note": f"breed-specific, {source}"}
    return {"label": "Dog", "mean": 9.7, "sd": 0.5, "note": f"{_BUCHANAN_1995}, all breeds"}


def vhs_assessment(vhs: float, reference: dict) -> str:
    """ "above", "below" or "within" the reference range, taken as mean ± 2 SD."""
    low = reference["mean"] - 2 * reference["sd"]
    high = reference["mean"] + 2 * reference["sd"]
    if vhs > round(high, 1):
        return "above"
    if vhs < round(low, 1):
        return "below"
    return "within"


# --- Regions of interest ---------------------------------------------------------------------


def _box(points: Sequence[Point]) -> tuple[float, float, float, float]:
    (x1, y1), (x2, y2) = points[0], points[1]
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def roi_area(tool: str, points: Sequence[Point], calibration: Calibration) -> float:
    """Area of the rectangle, or of the ellipse inscribed in it, in mm² (or px²)."""
    x0, y0, x1, y1 = _box(points)
    width, height = x1 - x0, y1 - y0
    if calibration.calibrated:
        width, height = width * calibration.column_mm, height * calibration.row_mm
    area = width * height
    return area * math.pi / 4 if tool == "ellipse" else area


def roi_mask(tool: str, points: Sequence[Point], shape: tuple[int, int]) -> np.ndarray:
    """Pixels whose centres lie inside the rectangle or ellipse (bounding box `points`)."""
    rows, columns = shape
    y, x = np.mgrid[0:rows, 0:columns]
    x0, y0, x1, y1 = _box(points)
    inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    if tool == "ellipse":
        cx, cy, a, b = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
        if a <= 0 or b <= 0:
            return np.zeros(shape, dtype=bool)
        inside &= ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 <= 1.0
    return inside


def roi_statistics(tool: str, points: Sequence[Point], pixels: np.ndarray) -> dict | None:
    """Mean, population SD, min, max and count of the (modality) values inside, or None."""
    if pixels.ndim != 2:
        return None
    values = pixels[roi_mask(tool, points, pixels.shape)]
    if values.size == 0:
        return None
    values = values.astype(np.float64)
    return {
        "mean": float(values.mean()),
        "sd": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
        "count": int(values.size),
    }
