"""A study's annotations as a Grayscale Softcopy Presentation State (PS3.3 A.33.1): the marks
as GRAPHIC objects and the measured values as TEXT objects, on the images they were drawn on.

Stored into the study by imaging.annotation_export.
"""

from __future__ import annotations

import math
from collections import defaultdict
from fractions import Fraction

from django.conf import settings
from django.utils import timezone
from pydicom import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from imaging.models import Annotation, AnnotationTool, Study

GSPS_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.11.1"
SERIES_DESCRIPTION = "Annotations"
_MEASUREMENT_LAYER = "MEASUREMENTS"
_TEXT_LAYER = "ANNOTATIONS"
_TEXT_TOOLS = (AnnotationTool.TEXT, AnnotationTool.ARROW)

# Patient and study attributes copied from the annotated images, veterinary ones included.
_COPIED = (
    "PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
    "PatientSpeciesDescription", "PatientSpeciesCodeSequence", "PatientBreedDescription",
    "PatientBreedCodeSequence", "BreedRegistrationSequence", "ResponsiblePerson",
    "ResponsiblePersonRole", "ResponsibleOrganization", "PatientSexNeutered",
    "StudyInstanceUID", "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID",
    "AccessionNumber", "StudyDescription",
)  # fmt: skip


# --- Graphics -------------------------------------------------------------------------------


def _ps(point) -> list[float]:
    """Annotation coordinates (origin at the top-left pixel's centre) to presentation state
    PIXEL units (origin at that pixel's top-left corner, PS3.3 C.10.5.1.1)."""
    return [float(point[0]) + 0.5, float(point[1]) + 0.5]


def _graphic(kind: str, points) -> Dataset:
    item = Dataset()
    item.GraphicAnnotationUnits = "PIXEL"
    item.GraphicDimensions = 2
    item.NumberOfGraphicPoints = len(points)
    item.GraphicData = [c for p in points for c in _ps(p)]
    item.GraphicType = kind
    if kind in ("CIRCLE", "ELLIPSE") or (kind == "POLYLINE" and points[0] == points[-1]):
        item.GraphicFilled = "N"
    return item


def _polyline(*points) -> Dataset:
    return _graphic("POLYLINE", [list(p) for p in points])


def _arrow_head(tip, tail, size: float = 8.0) -> Dataset:
    dx, dy = tail[0] - tip[0], tail[1] - tip[1]
    norm = math.hypot(dx, dy) or 1.0
    ux, uy = dx / norm * size, dy / norm * size
    turn = math.radians(25)
    left = [tip[0] + ux * math.cos(turn) - uy * math.sin(turn),
            tip[1] + ux * math.sin(turn) + uy * math.cos(turn)]  # fmt: skip
    right = [tip[0] + ux * math.cos(-turn) - uy * math.sin(-turn),
             tip[1] + ux * math.sin(-turn) + uy * math.cos(-turn)]  # fmt: skip
    return _polyline(left, tip, right)


def _ellipse(corner1, corner2) -> Dataset:
    x0, x1 = sorted([corner1[0], corner2[0]])
    y0, y1 = sorted([corner1[1], corner2[1]])
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    horizontal = [[x0, cy], [x1, cy]]
    vertical = [[cx, y0], [cx, y1]]
    # PS3.3 C.10.5.2: the major axis end points first, then the minor axis.
    major, minor = (horizontal, vertical) if x1 - x0 >= y1 - y0 else (vertical, horizontal)
    return _graphic("ELLIPSE", major + minor)


def graphics_for(annotation: Annotation) -> list[Dataset]:
    """The GRAPHIC objects that draw one annotation."""
    g, tool = annotation.geometry, annotation.tool
    if tool in (AnnotationTool.LENGTH, AnnotationTool.ANGLE, AnnotationTool.CALIBRATION):
        return [_polyline(*g["points"])]
    if tool == AnnotationTool.COBB:
        a1, a2, b1, b2 = g["points"]
        return [_polyline(a1, a2), _polyline(b1, b2)]
    if tool == AnnotationTool.ARROW:
        tip, tail = g["points"]
        return [_polyline(tail, tip), _arrow_head(tip, tail)]
    if tool == AnnotationTool.ELLIPSE:
        return [_ellipse(*g["points"])]
    if tool == AnnotationTool.RECTANGLE:
        (x0, y0), (x1, y1) = g["points"]
        return [_polyline([x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0])]
    if tool == AnnotationTool.TEXT:
        return [_graphic("POINT", [g["points"][0]])]
    if tool == AnnotationTool.VHS:
        return [
            _polyline(*g["long_axis"]),
            _polyline(*g["short_axis"]),
            _graphic("INTERPOLATED", g["vertebrae"]) if len(g["vertebrae"]) > 2
            else _polyline(*g["vertebrae"]),
            *(_graphic("POINT", [p]) for p in g["vertebrae"]),
        ]  # fmt: skip
    if tool == AnnotationTool.NORBERG:
        left, right = g["left"], g["right"]
        circles = [
            _graphic("CIRCLE", [side["center"], [side["center"][0] + side["radius"], side["center"][1]]])
            for side in (left, right)
        ]  # fmt: skip
        return circles + [
            _polyline(left["center"], right["center"]),
            _polyline(left["center"], left["rim"]),
            _polyline(right["center"], right["rim"]),
        ]
    if tool == AnnotationTool.TPA:
        return [_polyline(*g["plateau"]), _polyline(*g["axis"])]
    return []


def _format_value(value: dict) -> str:
    number = value["value"]
    text = f"{number:g}" if isinstance(number, (int, float)) else str(number)
    unit = value["unit"]
    joiner = "" if unit in ("°", "") else " "
    return f"{value['label']}: {text}{joiner}{unit}".rstrip()


# Typographic punctuation as plain ASCII: DCMTK (and the PACS built on it) reject text whose
# UTF-8 bytes fall in the C1 control range, as those of dashes and curly quotes do.
_PLAIN_PUNCTUATION = str.maketrans(
    {"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
     "\u2026": "...", "\u00a0": " "}
)  # fmt: skip


def annotation_text(annotation: Annotation) -> str:
    """The annotation's text and measured values, one per line."""
    lines = [annotation.text.strip()] if annotation.text.strip() else []
    lines += [_format_value(v) for v in annotation.values]
    if annotation.values and annotation.calibration_source != "none":
        lines.append(f"({annotation.calibration_note})")
    return "\r\n".join(lines).translate(_PLAIN_PUNCTUATION)


def _anchor(annotation: Annotation) -> list[float]:
    g = annotation.geometry
    if annotation.tool == AnnotationTool.NORBERG:
        return g["left"]["center"]
    if annotation.tool == AnnotationTool.VHS:
        return g["long_axis"][1]
    if annotation.tool == AnnotationTool.TPA:
        return g["plateau"][0]
    points = g["points"]
    return points[1] if annotation.tool == AnnotationTool.ARROW else points[-1]


def _text_object(annotation: Annotation) -> Dataset | None:
    text = annotation_text(annotation)
    if not text:
        return None
    item = Dataset()
    item.AnchorPointAnnotationUnits = "PIXEL"
    item.UnformattedTextValue = text[:1024]
    item.AnchorPoint = _ps(_anchor(annotation))
    item.AnchorPointVisibility = "N"
    return item


# --- The presentation state ------------------------------------------------------------------


def _referenced_image(image: Dataset, frame: int | None = None) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = image.SOPClassUID
    item.ReferencedSOPInstanceUID = image.SOPInstanceUID
    if frame is not None and int(image.get("NumberOfFrames", 1) or 1) > 1:
        item.ReferencedFrameNumber = frame
    return item


def _displayed_area(image: Dataset) -> Dataset:
    item = Dataset()
    item.ReferencedImageSequence = Sequence([_referenced_image(image)])
    item.DisplayedAreaTopLeftHandCorner = [1, 1]
    item.DisplayedAreaBottomRightHandCorner = [int(image.Columns), int(image.Rows)]
    item.PresentationSizeMode = "SCALE TO FIT"
    spacing = image.get("PixelSpacing") or image.get("ImagerPixelSpacing")
    if spacing and all(float(s) > 0 for s in spacing):
        item.PresentationPixelSpacing = list(spacing)
    else:
        aspect = image.get("PixelAspectRatio") or [1, 1]
        ratio = Fraction(int(aspect[0]), int(aspect[1]) or 1)
        item.PresentationPixelAspectRatio = [ratio.numerator, ratio.denominator]
    return item


def _first(value):
    return value[0] if isinstance(value, MultiValue) else value


def _voi(image: Dataset) -> Dataset | None:
    """The image's own (first) window, so the presentation state shows it as the file does."""
    if "WindowCenter" not in image or "WindowWidth" not in image:
        return None
    item = Dataset()
    item.ReferencedImageSequence = Sequence([_referenced_image(image)])
    item.WindowCenter = _first(image.WindowCenter)
    item.WindowWidth = _first(image.WindowWidth)
    return item


def _person_name(user) -> str:
    if user is None:
        return ""
    if user.last_name or user.first_name:
        return f"{user.last_name}^{user.first_name}"
    return user.get_username()


def presentation_state_build(
    *,
    study: Study,
    annotations: list[Annotation],
    images: dict[int, Dataset],
    series_uid: str,
    series_number: int,
    instance_number: int,
    user,
) -> Dataset:
    """The GSPS data set for `annotations` on `images` (headers by instance id)."""
    now = timezone.localtime()
    first = images[annotations[0].instance_id]
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = GSPS_SOP_CLASS
    ds.SOPInstanceUID = generate_uid()
    for keyword in _COPIED:
        if keyword in first:
            setattr(ds, keyword, first[keyword].value)
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                    "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID",
                    "AccessionNumber"):  # fmt: skip
        if keyword not in ds:
            setattr(ds, keyword, "")  # Type 2
    ds.StudyInstanceUID = study.study_instance_uid
    ds.Modality = "PR"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    ds.SeriesDescription = SERIES_DESCRIPTION
    ds.SeriesDate = ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.SeriesTime = ds.InstanceCreationTime = now.strftime("%H%M%S")
    ds.Manufacturer = settings.PORTAL_CLINIC_NAME[:64]
    ds.InstanceNumber = instance_number
    ds.ContentLabel = "ANNOTATIONS"
    ds.ContentDescription = "Measurements and annotations drawn in the portal"
    ds.PresentationCreationDate = now.strftime("%Y%m%d")
    ds.PresentationCreationTime = now.strftime("%H%M%S")
    ds.ContentCreatorName = _person_name(user)

    by_series: dict[str, list[Dataset]] = defaultdict(list)
    seen: set[int] = set()
    for annotation in annotations:
        if annotation.instance_id in seen:
            continue
        seen.add(annotation.instance_id)
        image = images[annotation.instance_id]
        by_series[image.SeriesInstanceUID].append(_referenced_image(image))
    ds.ReferencedSeriesSequence = Sequence()
    for uid, referenced in by_series.items():
        item = Dataset()
        item.SeriesInstanceUID = uid
        item.ReferencedImageSequence = Sequence(referenced)
        ds.ReferencedSeriesSequence.append(item)

    referenced_images = [images[pk] for pk in images if pk in seen]
    ds.DisplayedAreaSelectionSequence = Sequence([_displayed_area(i) for i in referenced_images])
    voi = [item for item in (_voi(i) for i in referenced_images) if item is not None]
    if voi:
        ds.SoftcopyVOILUTSequence = Sequence(voi)
    # Modality LUT module: the images' rescale, where they share one (CT).
    if "RescaleSlope" in first and "RescaleIntercept" in first:
        ds.RescaleSlope = first.RescaleSlope
        ds.RescaleIntercept = first.RescaleIntercept
        ds.RescaleType = str(
            first.get("RescaleType", "") or ("HU" if first.get("Modality") == "CT" else "US")
        )
    photometric = {i.get("PhotometricInterpretation") for i in referenced_images}
    ds.PresentationLUTShape = "INVERSE" if photometric == {"MONOCHROME1"} else "IDENTITY"
    ds.ImageRotation = 0
    ds.ImageHorizontalFlip = "N"

    ds.GraphicAnnotationSequence = Sequence()
    layers_used: set[str] = set()
    for annotation in annotations:
        image = images[annotation.instance_id]
        item = Dataset()
        item.ReferencedImageSequence = Sequence([_referenced_image(image, annotation.frame)])
        layer = _TEXT_LAYER if annotation.tool in _TEXT_TOOLS else _MEASUREMENT_LAYER
        item.GraphicLayer = layer
        layers_used.add(layer)
        graphics = graphics_for(annotation)
        if graphics:
            item.GraphicObjectSequence = Sequence(graphics)
        text = _text_object(annotation)
        if text is not None:
            item.TextObjectSequence = Sequence([text])
        ds.GraphicAnnotationSequence.append(item)
    ds.GraphicLayerSequence = Sequence()
    for order, (layer, description) in enumerate(
        [(_MEASUREMENT_LAYER, "Measurements"), (_TEXT_LAYER, "Arrows and text")], start=1
    ):
        if layer in layers_used:
            item = Dataset()
            item.GraphicLayer = layer
            item.GraphicLayerOrder = order
            item.GraphicLayerDescription = description
            ds.GraphicLayerSequence.append(item)

    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds
