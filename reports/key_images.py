"""Key images: a frame as the viewer renders it, with its annotations burned in.

Annotation geometry is in image pixel coordinates ([column, row], origin at the centre of the
top-left pixel), so it is drawn on the full-resolution frame before any scaling.
"""

from __future__ import annotations

import io
import math
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from pydicom import dcmread

from imaging import storage
from imaging.models import Annotation, AnnotationTool, Instance
from imaging.render import RenderError, render_frame
from reports.measurement_table import format_value
from reports.models import KeyImage

_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
LINE = (255, 214, 10)  # amber: visible on black, white and grey
SHADOW = (0, 0, 0)
TEXT = (255, 255, 255)

Point = tuple[float, float]
DRAWING_PIXELS = 1024  # smaller frames are enlarged to this before annotations are drawn


def frame_render(
    instance: Instance, frame: int, *, window: tuple[float, float] | None = None
) -> Image.Image:
    """The 1-based `frame` of a stored instance as an RGB image, at `window` (center, width)
    or else the viewer's default window."""
    with storage.instance_open(instance.storage_key) as handle:
        dataset = dcmread(handle)
    return render_frame(dataset, frame=frame - 1, window=window).convert("RGB")


def key_image_render(key_image: KeyImage, *, max_size: int | None = None) -> Image.Image:
    """The key image with its frame's annotations drawn on it, scaled to fit `max_size`.

    Raises RenderError when the frame cannot be drawn."""
    return frame_annotated_render(key_image.instance, key_image.frame, max_size=max_size)


def frame_annotated_render(
    instance: Instance,
    frame: int,
    *,
    window: tuple[float, float] | None = None,
    max_size: int | None = None,
) -> Image.Image:
    """A frame (RGB) with the clinic's annotations of that frame burned in, scaled to fit
    `max_size` (key images, prints). Raises RenderError when the frame cannot be drawn."""
    image = frame_render(instance, frame, window=window)
    # Small frames (ultrasound, dental) are enlarged first, so lines and labels stay crisp.
    zoom = max(1.0, DRAWING_PIXELS / max(image.size))
    if zoom > 1:
        size = (round(image.width * zoom), round(image.height * zoom))
        image = image.resize(size, Image.Resampling.BICUBIC)
    annotations = Annotation.objects.filter(
        instance_id=instance.pk, frame=frame, share_key=""
    ).order_by("created_at", "pk")
    annotations_burn(image, annotations, zoom=zoom)
    if max_size and max(image.size) > max_size:
        image.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)
    return image


def key_image_bytes(key_image: KeyImage, *, max_size: int, format: str = "PNG") -> bytes:
    try:
        image = key_image_render(key_image, max_size=max_size)
    except (RenderError, OSError) as exc:
        image = Image.new("RGB", (max_size, max_size * 3 // 4), (72, 72, 76))
        ImageDraw.Draw(image).text((12, 12), str(exc) or "Cannot display", fill=TEXT)
    buffer = io.BytesIO()
    if format == "JPEG":
        image.save(buffer, format="JPEG", quality=90)
    else:
        image.save(buffer, format="PNG")
    return buffer.getvalue()


def annotations_burn(image: Image.Image, annotations, *, zoom: float = 1.0) -> None:
    """Draw each annotation's lines, shapes and label onto `image` (RGB), whose pixels are the
    frame's enlarged `zoom` times."""
    draw = ImageDraw.Draw(image)
    width = max(1, round(max(image.size) / 400))
    font = _font(max(10, round(max(image.size) / 32)))
    for annotation in annotations:
        shapes = _scaled(_shapes(annotation.tool, annotation.geometry), zoom)
        for shape in shapes:
            _draw_shape(draw, shape, width)
        label = annotation_label(annotation)
        anchor = _label_anchor(shapes)
        if label and anchor:
            _draw_label(draw, image.size, anchor, label, font, width)


# Worded values drawn on the image; the others (reference ranges, typical values) are left to
# the measurements table, so labels stay short enough to read beside the marks.
_WORDED_VALUES_DRAWN = {"flag", "assessment"}


def annotation_label(annotation: Annotation) -> str:
    """What the annotation says: its text, then its values ("VHS 10.4 v")."""
    parts = [annotation.text] if annotation.text else []
    for item in annotation.values or []:
        if not isinstance(item, dict) or item.get("value") in (None, ""):
            continue
        if isinstance(item["value"], str):
            if item.get("name") == "assessment" and item["value"] in ("above", "below", "within"):
                parts.append(f"{item['value']} the reference range")
            elif item.get("name") in _WORDED_VALUES_DRAWN:
                parts.append(item["value"])
            continue
        unit = str(item.get("unit") or "")
        value = format_value(item.get("value")) + ("" if unit in ("", "°", "%") else " ") + unit
        name = str(item.get("label") or item.get("name") or "")
        parts.append(f"{name} {value}".strip())
    return "\n".join(parts)


# --- geometry --------------------------------------------------------------------------------


def _is_point(value) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) in (2, 3)
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )


def _points(value) -> list[Point]:
    """Every point in a geometry value, in order (lists, or dicts of named points)."""
    if _is_point(value):
        return [(float(value[0]), float(value[1]))]
    if isinstance(value, dict):
        if "x" in value and "y" in value:
            return [(float(value["x"]), float(value["y"]))]
        return [p for item in value.values() for p in _points(item)]
    if isinstance(value, list | tuple):
        return [p for item in value for p in _points(item)]
    return []


def _circles(value) -> list[tuple[Point, float]]:
    """Circles given as {"center": [c, r], "radius": n} anywhere in the geometry."""
    found = []
    if isinstance(value, dict):
        center, radius = value.get("center"), value.get("radius", value.get("r"))
        if _is_point(center) and isinstance(radius, int | float):
            return [((float(center[0]), float(center[1])), float(radius))]
        for item in value.values():
            found.extend(_circles(item))
    elif isinstance(value, list | tuple) and not _is_point(value):
        for item in value:
            found.extend(_circles(item))
    return found


def _strip_circles(value):
    """The geometry without its circles, so their centres are not joined by lines."""
    if isinstance(value, dict):
        if _is_point(value.get("center")) and ("radius" in value or "r" in value):
            return None
        return {k: _strip_circles(v) for k, v in value.items()}
    if isinstance(value, list | tuple) and not _is_point(value):
        return [_strip_circles(v) for v in value]
    return value


def _segments(value) -> list[list[Point]]:
    """Line segments: each named part or nested list of two or more points is a polyline;
    a flat list of points is taken pairwise (as the VHS, Cobb and TPA tools store axes)."""
    if isinstance(value, dict):
        if "points" in value or "handles" in value:
            return _pairs(_points(value.get("points", value.get("handles"))))
        out = []
        for item in value.values():
            out.extend(_segments(item))
        return out
    if isinstance(value, list | tuple) and value and not _is_point(value):
        if all(_is_point(item) for item in value):
            return _pairs(_points(value))
        out = []
        for item in value:
            out.extend(_segments(item))
        return out
    return []


def _pairs(points: list[Point]) -> list[list[Point]]:
    return [points[i : i + 2] for i in range(0, len(points) - 1, 2)]


def _shapes(tool: str, geometry) -> list[tuple]:
    """What to draw for one annotation: ("line", [p…]), ("arrow", tip, tail),
    ("ellipse"|"rectangle", box), ("circle", centre, radius), ("point", p)."""
    circles = _circles(geometry)
    rest = _strip_circles(geometry)
    points = _points(rest)
    shapes: list[tuple] = [("circle", centre, radius) for centre, radius in circles]
    if tool in (AnnotationTool.LENGTH, AnnotationTool.CALIBRATION) and len(points) >= 2:
        shapes.append(("line", points[:2]))
    elif tool == AnnotationTool.ANGLE and len(points) >= 3:
        shapes.append(("line", points[:3]))
    elif tool == AnnotationTool.ARROW and len(points) >= 2:
        # The arrow points at its first point; the text sits at its tail.
        shapes.append(("arrow", points[0], points[1]))
    elif tool in (AnnotationTool.ELLIPSE, AnnotationTool.RECTANGLE) and len(points) >= 2:
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        shapes.append((tool, (min(xs), min(ys), max(xs), max(ys))))
    elif tool == AnnotationTool.TEXT:
        shapes.extend(("point", p) for p in points[:1])
    elif tool == AnnotationTool.VHS and isinstance(geometry, dict) and "vertebrae" in geometry:
        # The cardiac axes, and the vertebral span with a tick at each marked border.
        for key in ("long_axis", "short_axis"):
            axis = _points(geometry.get(key))
            if len(axis) >= 2:
                shapes.append(("line", axis[:2]))
        span = _points(geometry["vertebrae"])
        if len(span) >= 2:
            shapes.append(("line", span))
        shapes.extend(("point", p) for p in span)
    elif tool == AnnotationTool.NORBERG and isinstance(geometry, dict):
        # Femoral head circles, the line joining their centres, and each centre to its rim.
        sides = [geometry.get(side) for side in ("left", "right")]
        centres = [_points(side.get("center")) for side in sides if isinstance(side, dict)]
        if len(centres) == 2 and all(centres):
            shapes.append(("line", [centres[0][0], centres[1][0]]))
        for side in sides:
            if isinstance(side, dict) and _points(side.get("center")) and _points(side.get("rim")):
                shapes.append(("line", [_points(side["center"])[0], _points(side["rim"])[0]]))
    else:
        # Cobb (two lines), TPA (plateau and axis) and anything newer: their parts as lines.
        segments = _segments(rest)
        shapes.extend(("line", segment) for segment in segments if len(segment) >= 2)
        if not segments:
            shapes.extend(("point", p) for p in points)
    return shapes


def _scaled(shapes: list[tuple], zoom: float) -> list[tuple]:
    """Shapes in drawing coordinates: pixel centres (integers in the geometry) sit half a pixel
    in from Pillow's pixel corners, and the frame may have been enlarged."""

    def xy(point: Point) -> Point:
        return ((point[0] + 0.5) * zoom, (point[1] + 0.5) * zoom)

    out = []
    for shape in shapes:
        kind = shape[0]
        if kind == "line":
            out.append((kind, [xy(p) for p in shape[1]]))
        elif kind == "arrow":
            out.append((kind, xy(shape[1]), xy(shape[2])))
        elif kind in ("ellipse", "rectangle"):
            x0, y0, x1, y1 = shape[1]
            out.append((kind, (*xy((x0, y0)), *xy((x1, y1)))))
        elif kind == "circle":
            out.append((kind, xy(shape[1]), shape[2] * zoom))
        elif kind == "point":
            out.append((kind, xy(shape[1])))
    return out


# --- drawing ---------------------------------------------------------------------------------


def _draw_shape(draw: ImageDraw.ImageDraw, shape: tuple, width: int) -> None:
    kind = shape[0]
    if kind == "line":
        points = shape[1]
        draw.line(points, fill=SHADOW, width=width + 2, joint="curve")
        draw.line(points, fill=LINE, width=width, joint="curve")
    elif kind == "arrow":
        tip, tail = shape[1], shape[2]
        head = _arrow_head(tip, tail, size=width * 6)
        draw.line([tail, tip], fill=SHADOW, width=width + 2)
        draw.line([tail, tip], fill=LINE, width=width)
        draw.polygon(head, fill=LINE, outline=SHADOW)
    elif kind in ("ellipse", "rectangle"):
        box = list(shape[1])
        method = draw.ellipse if kind == "ellipse" else draw.rectangle
        method(box, outline=SHADOW, width=width + 2)
        method(box, outline=LINE, width=width)
    elif kind == "circle":
        (cx, cy), radius = shape[1], shape[2]
        box = [cx - radius, cy - radius, cx + radius, cy + radius]
        draw.ellipse(box, outline=SHADOW, width=width + 2)
        draw.ellipse(box, outline=LINE, width=width)
    elif kind == "point":
        (x, y) = shape[1]
        r = width * 2
        draw.ellipse([x - r, y - r, x + r, y + r], fill=LINE, outline=SHADOW)


def _arrow_head(tip: Point, tail: Point, *, size: float) -> list[Point]:
    angle = math.atan2(tip[1] - tail[1], tip[0] - tail[0])
    left = angle + math.radians(150)
    right = angle - math.radians(150)
    return [
        tip,
        (tip[0] + size * math.cos(left), tip[1] + size * math.sin(left)),
        (tip[0] + size * math.cos(right), tip[1] + size * math.sin(right)),
    ]


def _label_anchor(shapes: list[tuple]) -> Point | None:
    """Beside the right-most point drawn (the arrow's tail for an arrow)."""
    points: list[Point] = []
    for shape in shapes:
        kind = shape[0]
        if kind == "line":
            points.extend(shape[1])
        elif kind == "arrow":
            return shape[2]
        elif kind in ("ellipse", "rectangle"):
            points.append((shape[1][2], shape[1][1]))
        elif kind == "circle":
            points.append((shape[1][0] + shape[2], shape[1][1]))
        elif kind == "point":
            points.append(shape[1])
    return max(points, key=lambda p: p[0]) if points else None


def _draw_label(draw, size, anchor: Point, label: str, font, width: int) -> None:
    left, top, right, bottom = draw.multiline_textbbox((0, 0), label, font=font)
    text_w, text_h = right - left, bottom - top
    x = anchor[0] + width * 4
    y = anchor[1] - text_h / 2
    # Keep the label inside the image: flip to the left of the point when it would not fit.
    if x + text_w > size[0] - 4:
        x = anchor[0] - width * 4 - text_w
    x = min(max(4, x), max(4, size[0] - text_w - 4))
    y = min(max(4, y), max(4, size[1] - text_h - 4))
    draw.multiline_text(
        (x, y), label, font=font, fill=TEXT, stroke_width=max(1, width // 2), stroke_fill=SHADOW
    )


@cache
def _font(size: int):
    try:
        return ImageFont.truetype(str(_FONT), size)
    except OSError:
        try:
            return ImageFont.load_default(size=size)
        except Exception:
            return ImageFont.load_default()
