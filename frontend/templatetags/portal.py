"""Small template helpers for the staff pages: thumbnail tiles and DICOM value display."""

from django import template
from django.urls import reverse

from imaging.models import Instance, Series, ThumbnailState

register = template.Library()


@register.inclusion_tag("frontend/_thumb.html")
def series_thumb(series: Series, size: str = "") -> dict:
    """The series' representative image, or a "rendering…" tile until it exists."""
    number = f"Series {series.series_number}" if series.series_number is not None else "Series"
    label = f"{number} · {series.description}" if series.description else number
    src = ""
    if series.thumbnail_key:
        # The version changes as instances arrive, so a re-rendered image is fetched again.
        src = f"{reverse('series-thumbnail', args=[series.pk])}?v={series.instance_count}"
    return {"src": src, "label": label, "size": size}


@register.inclusion_tag("frontend/_thumb.html")
def instance_thumb(instance: Instance, size: str = "") -> dict:
    label = f"Image {instance.instance_number}" if instance.instance_number is not None else "Image"
    if instance.number_of_frames > 1:
        label += f" ({instance.number_of_frames} frames)"
    failed = ""
    if instance.thumbnail_state == ThumbnailState.FAILED:
        failed = instance.thumbnail_error or "This image could not be rendered."
    src = ""
    if instance.thumbnail_key:
        src = f"{reverse('instance-thumbnail', args=[instance.pk])}?v={instance.sha256[:12]}"
    return {"src": src, "label": label, "failed": failed if not src else "", "size": size}


@register.filter
def modalities(value: str) -> str:
    """Modalities in Study is multi-valued with a backslash separator: show "CT, SR"."""
    return ", ".join(part for part in (value or "").split("\\") if part)


@register.filter
def person_name(value: str) -> str:
    """A DICOM Person Name (`Family^Given^Middle^Prefix^Suffix`) as people write it: "Dr Anna Vet"."""
    if not value or "^" not in value:
        return value
    family, given, middle, prefix, suffix = ([*value.split("=")[0].split("^"), "", "", "", ""])[:5]
    return " ".join(part for part in (prefix, given, middle, family, suffix) if part.strip())
