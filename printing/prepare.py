"""The images of a print job as the printer gets them: 8-bit grey, at the window shown in the
viewer, with annotations burned in when asked, scaled to fit their image box."""

from __future__ import annotations

from PIL import Image

from imaging.models import Annotation
from printing.models import FILM_SIZES, FilmOrientation, PrintJob, PrintJobImage, layout_grid
from reports.key_images import frame_annotated_render, frame_render

# Pixels per inch of film an image box is given. Larger frames are scaled down to fit; smaller
# ones are sent as they are and the printer enlarges them (its Magnification Type).
PRINT_DPI = 150


def image_box_size(*, film_size: str, orientation: str, layout: str) -> tuple[int, int]:
    """(width, height) in pixels of one image box on the film."""
    width_in, height_in = FILM_SIZES[film_size]
    if orientation == FilmOrientation.LANDSCAPE:
        width_in, height_in = height_in, width_in
    columns, rows = layout_grid(layout)
    return int(width_in * PRINT_DPI / columns), int(height_in * PRINT_DPI / rows)


def print_image_render(
    image: PrintJobImage, *, annotations: bool, box: tuple[int, int]
) -> Image.Image:
    """One frame, mode "L", fitting `box`. Colour images become grey (ITU-R 601 luma).
    Raises imaging.render.RenderError or OSError when the frame cannot be drawn."""
    # A frame without marks is sent at its own size: key images' drawing size would only
    # enlarge it before the printer's own magnification.
    if annotations and _has_annotations(image):
        picture = frame_annotated_render(image.instance, image.frame, window=image.window)
    else:
        picture = frame_render(image.instance, image.frame, window=image.window)
    grey = picture.convert("L")
    if grey.width > box[0] or grey.height > box[1]:
        grey.thumbnail(box, Image.Resampling.LANCZOS)
    return grey


def _has_annotations(image: PrintJobImage) -> bool:
    return Annotation.objects.filter(
        instance_id=image.instance_id, frame=image.frame, share_key=""
    ).exists()


def print_job_images(job: PrintJob) -> list[Image.Image]:
    """Every image of the job, in order, ready for its image box."""
    box = image_box_size(film_size=job.film_size, orientation=job.orientation, layout=job.layout)
    return [
        print_image_render(image, annotations=job.annotations, box=box)
        for image in job.images.select_related("instance")
    ]
