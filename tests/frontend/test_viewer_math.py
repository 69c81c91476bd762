"""The viewer's live values (frontend/viewer/measurements.js, run in Node) equal the server's
(imaging.annotation_values) for the same geometry, so what a vet sees while drawing is what
is saved; and the viewer's own math tests pass."""

import json
import subprocess
from pathlib import Path

import pytest

from imaging import measurements as m
from imaging.annotation_values import values_measure
from tests.conftest import require_executable

VIEWER = Path(__file__).resolve().parents[2] / "frontend" / "viewer"

CASES = [
    ("length", {"points": [[10, 20], [310, 420]]}),
    ("angle", {"points": [[100, 0], [0, 0], [70, 70]]}),
    ("cobb", {"points": [[0, 0], [100, 10], [0, 50], [100, 80]]}),
    (
        "vhs",
        {
            "long_axis": [[230, 200], [230, 410]],
            "short_axis": [[145, 305], [315, 305]],
            "vertebrae": [[200, 90], [238, 92], [279, 91], [321, 90]],
        },
    ),
    (
        "norberg",
        {
            "left": {"center": [100, 200], "radius": 40, "rim": [120, 150]},
            "right": {"center": [300, 205], "radius": 41, "rim": [275, 150]},
        },
    ),
    ("tpa", {"plateau": [[100, 100], [160, 80]], "axis": [[130, 90], [140, 400]]}),
    ("calibration", {"points": [[0, 0], [120, 0]], "known_mm": 25}),
]
CALIBRATIONS = {
    "pixel_spacing": (
        {"pixelSpacing": [0.2, 0.25]},
        m.calibration_from_header(pixel_spacing=[0.2, 0.25]),
    ),
    "none": ({}, m.UNCALIBRATED),
}


def _node_values(node: str) -> dict:
    script = f"""
import {{ valuesFor, calibrationFromHeader }} from {json.dumps((VIEWER / "measurements.js").as_uri())};
const cases = {json.dumps(CASES)};
const calibrations = {json.dumps({k: v[0] for k, v in CALIBRATIONS.items()})};
const out = {{}};
for (const [name, header] of Object.entries(calibrations)) {{
  out[name] = cases.map(([tool, geometry]) => valuesFor(tool, geometry, calibrationFromHeader(header)));
}}
console.log(JSON.stringify(out));
"""
    result = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


@pytest.mark.parametrize("calibration", list(CALIBRATIONS))
def test_live_values_match_the_servers(calibration):
    node = require_executable("node")
    live = _node_values(node)[calibration]
    server_calibration = CALIBRATIONS[calibration][1]
    for (tool, geometry), shown in zip(CASES, live, strict=True):
        saved = values_measure(tool, geometry, server_calibration)
        saved_numbers = {v["name"]: v for v in saved if isinstance(v["value"], (int, float))}
        compared = 0
        for value in shown:
            if value["name"] in saved_numbers:
                expected = saved_numbers[value["name"]]
                assert value["unit"] == expected["unit"], (tool, value)
                assert value["value"] == pytest.approx(expected["value"], abs=0.051), (tool, value)
                compared += 1
        assert compared, f"{tool}: no value in common with the server"


def test_the_viewers_own_math_tests_pass():
    node = require_executable("node")
    result = subprocess.run([node, "--test", str(VIEWER)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
