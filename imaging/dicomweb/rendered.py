"""WADO-RS rendered resources and thumbnails (PS3.18 8.3.5.1, 10.4.1.1.3): consumer images.

Pixels go through imaging/render.py's grey-scale pipeline (Modality LUT, VOI, photometric
interpretation); `window` replaces the file's VOI, `viewport` crops and scales, `quality`
sets the JPEG quality. Thumbnails reuse the PNG the portal already rendered when they can.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.http import QueryDict
from PIL import Image

from imaging import storage
from imaging.dicomweb import media
from imaging.dicomweb.errors import BadRequest, NotAcceptable, NotFound
from imaging.models import Instance
from imaging.render import NoImage, RenderError, placeholder, render_image

JPEG, PNG = "image/jpeg", "image/png"
_FUNCTIONS = {"linear": "LINEAR", "linear-exact": "LINEAR_EXACT", "sigmoid": "SIGMOID"}
_PARAMETERS = {"window", "viewport", "quality", "annotation", "charset"}
THUMBNAIL_SIZE = 256


@dataclass(frozen=True)
class Rendering:
    media_type: str = JPEG
    window: tuple[float, float, str] | None = None
    viewport: tuple[int, int] | None = None
    region: tuple[float, float, float, float] | None = None  # sx, sy, sw, sh in pixels
    quality: int = 90


def rendering_parse(params: QueryDict, accept: str, *, thumbnail: bool = False) -> Rendering:
    """Check the query and the Accept header; BadRequest or NotAcceptable names the problem."""
    for name in params:
        if name not in _PARAMETERS:
            raise BadRequest(f"Unknown parameter {name!r} (rendered takes {sorted(_PARAMETERS)}).")
    window = _window(params.get("window")) if "window" in params else None
    viewport, region = _viewport(params.get("viewport")) if "viewport" in params else (None, None)
    quality = 90
    if "quality" in params:
        text = params["quality"]
        if not text.isdigit() or not 1 <= int(text) <= 100:
            raise BadRequest("quality must be a whole number from 1 to 100.")
        quality = int(text)
    if thumbnail and viewport is None:
        viewport = (THUMBNAIL_SIZE, THUMBNAIL_SIZE)
    return Rendering(_media_type(accept), window, viewport, region, quality)


def _media_type(accept: str) -> str:
    for r in media.accept_parse(accept) or [media.MediaRange("*/*")]:
        if r.type in ("*/*", "image/*", JPEG):
            return JPEG
        if r.type == PNG:
            return PNG
    raise NotAcceptable(f"Rendered images are {JPEG} or {PNG}; cannot send {accept!r}.")


def _numbers(text: str, name: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise BadRequest(f"{name} must be numbers separated by commas.") from None


def _window(text: str) -> tuple[float, float, str]:
    parts = text.split(",")
    if len(parts) not in (2, 3):
        raise BadRequest(
            "window is center,width[,function] (function linear, linear-exact or sigmoid)."
        )
    center, width = _numbers(",".join(parts[:2]), "window")
    function = parts[2].strip().lower() if len(parts) == 3 else "linear"
    if function not in _FUNCTIONS:
        raise BadRequest(f"window function {function!r} is not linear, linear-exact or sigmoid.")
    if width <= 0:
        raise BadRequest("window width must be more than 0.")
    return center, width, _FUNCTIONS[function]


def _viewport(text: str):
    values = _numbers(text, "viewport")
    if len(values) not in (2, 6):
        raise BadRequest("viewport is vw,vh or vw,vh,sx,sy,sw,sh.")
    vw, vh = int(values[0]), int(values[1])
    if not (1 <= vw <= 8192 and 1 <= vh <= 8192):
        raise BadRequest("viewport width and height must be 1 to 8192 pixels.")
    region = tuple(values[2:]) if len(values) == 6 else None
    return (vw, vh), region


def instance_render(instance: Instance, rendering: Rendering, *, frame: int | None = None) -> bytes:
    """The instance's frame (1-based; the representative one by default) as JPEG or PNG."""
    if frame is not None and not 1 <= frame <= instance.number_of_frames:
        raise NotFound(f"Frame {frame} does not exist (the image has {instance.number_of_frames}).")
    # Decimating before the LUTs is only exact enough when the whole image is shown smaller.
    max_size = max(rendering.viewport) if rendering.viewport and not rendering.region else None
    with storage.instance_open(instance.storage_key) as handle:
        try:
            image, aspect = render_image(
                handle,
                frame=None if frame is None else frame - 1,
                window=rendering.window,
                max_size=max_size,
            )
        except NoImage as exc:
            raise NotFound(f"{exc}: nothing to render.") from exc
        except RenderError as exc:
            raise NotAcceptable(str(exc)) from exc
    image = _fit(image, aspect, rendering)
    return encode(image, rendering)


def _fit(image: Image.Image, aspect: float, rendering: Rendering) -> Image.Image:
    if rendering.region:
        sx, sy, sw, sh = rendering.region
        # PS3.18 8.3.5.1.3: sw/sh 0 mean "to the edge"; negative ones flip the image.
        sw = sw or image.width - sx
        sh = sh or image.height - sy
        left, right = sorted((sx, sx + sw))
        top, bottom = sorted((sy, sy + sh))
        image = image.crop((int(left), int(top), int(right), int(bottom)))
        if sw < 0:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if sh < 0:
            image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    width, height = image.width, image.height * aspect
    if rendering.viewport:
        vw, vh = rendering.viewport
        scale = min(vw / width, vh / height)
    else:
        scale = 1.0
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    if target != image.size:
        image = image.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return image


def encode(image: Image.Image, rendering: Rendering) -> bytes:
    buffer = io.BytesIO()
    if rendering.media_type == PNG:
        image.save(buffer, format="PNG")
    else:
        image.save(buffer, format="JPEG", quality=rendering.quality)
    return buffer.getvalue()


def placeholder_image(reason: str, rendering: Rendering) -> bytes:
    """A grey tile saying why there is no image, in the media type asked for."""
    size = min(rendering.viewport) if rendering.viewport else THUMBNAIL_SIZE
    tile = Image.open(io.BytesIO(placeholder(reason, size=size)))
    return encode(tile.convert("RGB"), rendering)


def thumbnail(instance: Instance, rendering: Rendering, *, stored_key: str = "") -> bytes:
    """A small image of the instance: the PNG rendered on arrival when it is what was asked."""
    default = rendering.viewport == (THUMBNAIL_SIZE, THUMBNAIL_SIZE)
    if stored_key and default and rendering.window is None and rendering.region is None:
        try:
            with storage.thumbnail_open(stored_key) as handle:
                png = handle.read()
        except OSError:
            png = b""
        if png and rendering.media_type == PNG:
            return png
        if png:
            image = Image.open(io.BytesIO(png))
            return encode(
                image.convert("RGB") if image.mode not in ("L", "RGB") else image, rendering
            )
    return instance_render(instance, rendering)
