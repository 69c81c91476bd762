"""The study's measured values, as the report lists them: one row per value of an annotation."""

from dataclasses import dataclass

from imaging.models import Annotation, CalibrationSource, Study
from reports.reports import image_label

_CALIBRATION = dict(CalibrationSource.choices)


@dataclass(frozen=True)
class MeasurementRow:
    image: str
    tool: str
    label: str
    value: str
    unit: str
    calibration: str

    @property
    def name(self) -> str:
        """ "Vertebral heart score: VHS"; a label that already names its tool stands alone."""
        if not self.label or self.label.lower() == self.tool.lower():
            return self.tool
        if self.label.lower().startswith(self.tool.lower()):
            return self.label
        return f"{self.tool}: {self.label}"

    @property
    def value_with_unit(self) -> str:
        if not self.unit:
            return self.value
        joiner = "" if self.unit in ("°", "%") else " "
        return f"{self.value}{joiner}{self.unit}"


def format_value(value) -> str:
    """A number as the server rounded it ("9.9", "50", "0.25"); text as it is."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format(value, ".10g")
    return str(value)


def measurement_rows(study: Study) -> list[MeasurementRow]:
    """Every computed value of the study's annotations, image by image, in drawing order."""
    annotations = (
        Annotation.objects.filter(study=study, share_key="")  # the clinic's own marks
        .exclude(values=[])
        .select_related("instance__series")
        .order_by("instance__series__series_number", "instance__instance_number", "frame", "pk")
    )
    rows = []
    for annotation in annotations:
        calibration = _CALIBRATION.get(annotation.calibration_source, annotation.calibration_source)
        for item in annotation.values or []:
            if not isinstance(item, dict) or item.get("value") in (None, ""):
                continue
            rows.append(
                MeasurementRow(
                    image=image_label(annotation.instance, annotation.frame),
                    tool=annotation.get_tool_display(),
                    label=str(item.get("label") or item.get("name") or ""),
                    value=format_value(item.get("value")),
                    unit=str(item.get("unit") or ""),
                    calibration=calibration,
                )
            )
    return rows
