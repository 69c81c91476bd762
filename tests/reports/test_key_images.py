"""Key images are drawn with their frame's annotations burned in."""

import io

import pytest
from PIL import Image

from imaging.models import Annotation
from reports import reports as service
from reports.key_images import (
    DRAWING_PIXELS,
    _shapes,
    annotation_label,
    frame_render,
    key_image_bytes,
    key_image_render,
)
from tests.reports.conftest import ingest_study

pytestmark = pytest.mark.django_db


def _at(image: Image.Image, column: float, row: float, zoom: float) -> tuple:
    """The drawn pixel over image pixel (column, row) of the original frame."""
    return image.getpixel((int((column + 0.5) * zoom), int((row + 0.5) * zoom)))


def test_a_length_line_is_burned_into_the_key_image(study, image, vet, length_annotation):
    key_image = service.key_image_add(
        study=study, sop_instance_uid=image.sop_instance_uid, frame=1, user=vet
    )
    burned = key_image_render(key_image)
    zoom = DRAWING_PIXELS / 128
    assert burned.size == (DRAWING_PIXELS, DRAWING_PIXELS)
    plain = frame_render(image, 1).resize(burned.size, Image.Resampling.BICUBIC)
    # The middle of the line from (10, 20) to (110, 20) differs; a far corner does not.
    assert _at(burned, 60, 20, zoom) != _at(plain, 60, 20, zoom)
    assert _at(burned, 60, 20, zoom) == (255, 214, 10)
    assert _at(burned, 120, 120, zoom) == _at(plain, 120, 120, zoom)


def test_only_the_key_frame_s_annotations_are_drawn(rex, vet):
    study = ingest_study(modality="US", body_part="ABDOMEN", views=[(1, "", "Liver")], frames=3)
    cine = study.series.get().instances.get()
    Annotation.objects.create(
        instance=cine, study=study, frame=2, tool="rectangle",
        geometry={"points": [[8, 8], [40, 40]]}, author=vet,
    )  # fmt: skip
    frame_one = service.key_image_add(
        study=study, sop_instance_uid=cine.sop_instance_uid, frame=1, user=vet
    )
    frame_two = service.key_image_add(
        study=study, sop_instance_uid=cine.sop_instance_uid, frame=2, user=vet
    )
    zoom = DRAWING_PIXELS / 128
    first, second = key_image_render(frame_one), key_image_render(frame_two)
    assert _at(second, 24, 8, zoom) == (255, 214, 10)  # the rectangle's top edge
    assert _at(first, 24, 8, zoom) != (255, 214, 10)


def test_key_image_png_is_scaled_to_the_size_asked(study, image, vet):
    key_image = service.key_image_add(
        study=study, sop_instance_uid=image.sop_instance_uid, frame=1, user=vet
    )
    png = Image.open(io.BytesIO(key_image_bytes(key_image, max_size=300)))
    assert png.format == "PNG" and max(png.size) == 300


def test_shapes_for_each_tool():
    line = _shapes("length", {"points": [[0, 0], [10, 0]]})
    assert line == [("line", [(0.0, 0.0), (10.0, 0.0)])]
    assert _shapes("angle", [[0, 0], [5, 5], [10, 0]])[0][0] == "line"
    arrow = _shapes("arrow", {"points": [[1, 1], [9, 9]]})
    assert arrow == [("arrow", (1.0, 1.0), (9.0, 9.0))]
    assert _shapes("ellipse", {"points": [[4, 2], [0, 8]]}) == [("ellipse", (0.0, 2.0, 4.0, 8.0))]
    cobb = _shapes("cobb", {"points": [[0, 0], [4, 0], [0, 9], [4, 8]]})
    assert [s[0] for s in cobb] == ["line", "line"]
    vhs = _shapes(
        "vhs",
        {"long_axis": [[0, 0], [10, 0]], "short_axis": [[5, -3], [5, 3]],
         "vertebrae": [[20, 0], [30, 0], [40, 0], [50, 0]]},
    )  # fmt: skip
    assert [s[0] for s in vhs] == ["line", "line", "line", "point", "point", "point", "point"]
    assert vhs[2][1] == [(20.0, 0.0), (30.0, 0.0), (40.0, 0.0), (50.0, 0.0)]  # the whole span
    norberg = _shapes(
        "norberg",
        {"left": {"center": [10, 10], "radius": 4, "rim": [14, 4]},
         "right": {"center": [30, 10], "radius": 4, "rim": [26, 4]}},
    )  # fmt: skip
    assert [s[0] for s in norberg] == ["circle", "circle", "line", "line", "line"]
    assert ("line", [(10.0, 10.0), (30.0, 10.0)]) in norberg  # centre to centre
    tpa = _shapes("tpa", {"plateau": [[0, 0], [10, 2]], "axis": [[5, 0], [5, 40]]})
    assert tpa == [("line", [(0.0, 0.0), (10.0, 2.0)]), ("line", [(5.0, 0.0), (5.0, 40.0)])]
    assert _shapes("text", {"points": [[3, 3]]}) == [("point", (3.0, 3.0))]


def test_labels_say_text_and_values_but_leave_references_to_the_table():
    vhs = Annotation(
        tool="vhs",
        text="",
        values=[{"name": "vhs", "label": "VHS", "value": 10.4, "unit": "v"},
                {"name": "reference", "label": "Reference: dog", "value": "9.7 ± 0.5", "unit": "v"},
                {"name": "assessment", "label": "Compared", "value": "above", "unit": ""}],
    )  # fmt: skip
    assert annotation_label(vhs) == "VHS 10.4 v\nabove the reference range"
    norberg = Annotation(
        tool="norberg",
        values=[{"name": "norberg_left", "label": "Norberg angle, left", "value": 97.3, "unit": "°"}],
    )  # fmt: skip
    assert annotation_label(norberg) == "Norberg angle, left 97.3°"
    arrow = Annotation(tool="arrow", text="Nodule", values=[])
    assert annotation_label(arrow) == "Nodule"
