"""What each annotation tool's geometry must look like, and the values it measures.

No Django here: `geometry_clean` checks and normalises what the viewer sent, `values_measure`
turns clean geometry plus the image's calibration into `[{name, label, value, unit}]`.
"""

from __future__ import annotations

import math

import numpy as np

from imaging import measurements as m
from imaging.measurements import Calibration, GeometryError

# Tool → {geometry key: number of points}; None means "at least two".
_POINT_SHAPES: dict[str, dict[str, int | None]] = {
    "length": {"points": 2},
    "angle": {"points": 3},
    "cobb": {"points": 4},
    "arrow": {"points": 2},
    "ellipse": {"points": 2},
    "rectangle": {"points": 2},
    "text": {"points": 1},
    "vhs": {"long_axis": 2, "short_axis": 2, "vertebrae": None},
    "tpa": {"plateau": 2, "axis": 2},
    "calibration": {"points": 2},
}
TOOLS = (*_POINT_SHAPES, "norberg")
_ROI_TOOLS = ("ellipse", "rectangle")


def _point(value, where: str) -> list[float]:
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        or not all(math.isfinite(v) for v in value)
    ):
        raise GeometryError(f"{where} must be a point [column, row] of two numbers.")
    return [float(value[0]), float(value[1])]


def _points(value, count: int | None, where: str) -> list[list[float]]:
    if not isinstance(value, (list, tuple)):
        raise GeometryError(f"{where} must be a list of points [column, row].")
    if count is not None and len(value) != count:
        raise GeometryError(f"{where} needs exactly {count} point{'s' if count > 1 else ''}.")
    if count is None and len(value) < 2:
        raise GeometryError(f"{where} needs at least 2 points.")
    return [_point(p, f"Each point of {where}") for p in value]


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise GeometryError(f"{where} must be a number.")
    return float(value)


def geometry_clean(tool: str, geometry, text: str = "") -> dict:
    """The geometry with numbers as floats and unknown keys dropped; GeometryError if unfit."""
    if tool not in TOOLS:
        raise GeometryError(f"Unknown tool “{tool}”.")
    if not isinstance(geometry, dict):
        raise GeometryError("Geometry must be an object.")
    clean: dict = {}
    if tool == "norberg":
        for side in ("left", "right"):
            part = geometry.get(side)
            if not isinstance(part, dict):
                raise GeometryError(f"The {side} hip needs center, radius and rim.")
            radius = _number(part.get("radius"), f"The {side} femoral head radius")
            if radius <= 0:
                raise GeometryError(f"The {side} femoral head radius must be more than 0.")
            clean[side] = {
                "center": _point(part.get("center"), f"The {side} femoral head centre"),
                "radius": radius,
                "rim": _point(part.get("rim"), f"The {side} acetabular rim point"),
            }
        return clean
    for key, count in _POINT_SHAPES[tool].items():
        clean[key] = _points(geometry.get(key), count, key.replace("_", " ").capitalize())
    if tool == "calibration":
        known = _number(geometry.get("known_mm"), "The known length (known_mm)")
        if known <= 0:
            raise GeometryError("The known length (known_mm) must be more than 0 mm.")
        clean["known_mm"] = known
    if tool in _ROI_TOOLS:
        (x1, y1), (x2, y2) = clean["points"]
        if x1 == x2 or y1 == y2:
            raise GeometryError("The region has no area: its corners share a row or a column.")
    if tool == "text" and not text.strip():
        raise GeometryError("A text annotation needs some text.", field="text")
    return clean


def _value(name: str, label: str, value, unit: str, digits: int = 2) -> dict:
    if isinstance(value, float):
        value = round(value, digits)
    return {"name": name, "label": label, "value": value, "unit": unit}


def values_measure(
    tool: str,
    geometry: dict,
    calibration: Calibration,
    *,
    pixels: np.ndarray | None = None,
    pixel_unit: str = "",
    reference: dict | None = None,
) -> list[dict]:
    """The values a tool measures on clean geometry, rounded for reading."""
    unit = calibration.unit
    if tool == "length":
        return [_value("length", "Length", m.length(geometry["points"], calibration), unit)]
    if tool == "angle":
        return [_value("angle", "Angle", m.angle(geometry["points"], calibration), "°", 1)]
    if tool == "cobb":
        return [_value("cobb", "Cobb angle", m.cobb(geometry["points"], calibration), "°", 1)]
    if tool in _ROI_TOOLS:
        return _roi_values(tool, geometry, calibration, pixels, pixel_unit)
    if tool == "vhs":
        return _vhs_values(geometry, calibration, reference)
    if tool == "norberg":
        left, right = m.norberg(geometry["left"], geometry["right"], calibration)
        values = [
            _value("norberg_left", "Norberg angle, left", left, "°", 1),
            _value("norberg_right", "Norberg angle, right", right, "°", 1),
        ]
        low = [side for side, a in (("left", left), ("right", right)) if round(a, 1) < 105]
        if low:
            values.append(
                _value(
                    "flag",
                    "Flag",
                    f"{' and '.join(low)} below 105°: suggests hip laxity",
                    "",
                )
            )
        return values
    if tool == "tpa":
        tpa = m.tibial_plateau_angle(geometry["plateau"], geometry["axis"], calibration)
        return [
            _value("tpa", "Tibial plateau angle", tpa, "°", 1),
            _value("tpa_typical", "Typical", "about 18–25°", ""),
        ]
    if tool == "calibration":
        return [
            _value(
                "line_length", "Line length", m.length(geometry["points"], m.UNCALIBRATED), "px"
            ),
            _value("known_length", "Known length", geometry["known_mm"], "mm"),
        ]
    return []  # arrow, text: the text is the content


def _roi_values(tool, geometry, calibration, pixels, pixel_unit) -> list[dict]:
    area_unit = "mm²" if calibration.calibrated else "px²"
    values = [_value("area", "Area", m.roi_area(tool, geometry["points"], calibration), area_unit)]
    stats = m.roi_statistics(tool, geometry["points"], pixels) if pixels is not None else None
    if stats:
        values += [
            _value("mean", "Mean", stats["mean"], pixel_unit),
            _value("sd", "SD", stats["sd"], pixel_unit),
            _value("min", "Min", stats["min"], pixel_unit),
            _value("max", "Max", stats["max"], pixel_unit),
            _value("pixels", "Pixels", stats["count"], ""),
        ]
    return values


def _vhs_values(geometry, calibration, reference) -> list[dict]:
    score = m.vertebral_heart_score(
        geometry["long_axis"], geometry["short_axis"], geometry["vertebrae"], calibration
    )
    values = [
        _value("long_axis", "Long axis", score.long_units, "v", 1),
        _value("short_axis", "Short axis", score.short_units, "v", 1),
        _value("vhs", "VHS", score.vhs, "v", 1),
    ]
    if calibration.calibrated:
        values += [
            _value("long_axis_mm", "Long axis length", score.long_length, "mm", 1),
            _value("short_axis_mm", "Short axis length", score.short_length, "mm", 1),
        ]
    if reference:
        values += [
            _value(
                "reference",
                f"Reference: {reference['label']} ({reference['note']})",
                f"{reference['mean']:g} ± {reference['sd']:g}",
                "v",
            ),
            _value(
                "assessment",
                "Compared with the reference range (mean ± 2 SD)",
                m.vhs_assessment(score.vhs, reference),
                "",
            ),
        ]
    return values
