"""Store a study's annotations into the study, so a PACS keeps them.

Two objects, each stored through ingest like any arriving instance, so sending the study sends
them too: Grayscale Softcopy Presentation States (the marks and values on the images, series
"Annotations", modality PR; one per kind of image, since a state applies one SOP class and
modality LUT to all it references) and a Comprehensive SR (every value as a number with UCUM
units, series "Measurements", modality SR).

Exporting again replaces the earlier export: the series UIDs are derived from the study UID so
every export lands in the same two series; each export is new instances (new SOP Instance
UIDs, as the content changed, with the next instance numbers), and the earlier instances are
removed from the portal once the new ones are stored. A PACS that received an earlier export
keeps it until it receives the new one, told apart by instance number and creation time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Max
from pydicom import Dataset
from pydicom.uid import generate_uid

from imaging import ingest, storage
from imaging.annotations import image_dataset, study_annotations
from imaging.measurement_report import measurement_report_build
from imaging.models import Annotation, Instance, Series, Study, StudyEvent
from imaging.presentation_state import presentation_state_build


class NothingToExport(Exception):
    """The study has no annotations."""


@dataclass(frozen=True)
class Exported:
    sop_instance_uid: str  # the first (usually the only) presentation state
    sop_instance_uids: list[str]
    series_instance_uid: str
    annotations: int
    report_sop_instance_uid: str | None
    report_series_instance_uid: str


def presentation_series_uid(study: Study) -> str:
    """The same UID for every export of a study, so a new export replaces the last."""
    return generate_uid(entropy_srcs=[study.study_instance_uid, "annotations presentation state"])


def report_series_uid(study: Study) -> str:
    return generate_uid(entropy_srcs=[study.study_instance_uid, "annotations measurement report"])


def _group_key(image: Dataset) -> tuple:
    """Images one presentation state may share: same SOP class (DCMTK and viewers expect it)
    and the same modality LUT and photometric interpretation, which the state applies to all."""
    return (
        str(image.SOPClassUID),
        str(image.get("RescaleSlope", "")),
        str(image.get("RescaleIntercept", "")),
        str(image.get("PhotometricInterpretation", "")),
    )


@dataclass
class _Slot:
    """Where an export goes: its series number and the instances it replaces."""

    series_number: int
    next_instance_number: int
    earlier: list[Instance]


def _slot(study: Study, series_uid: str, *, above: int = 0) -> _Slot:
    existing = Series.objects.filter(series_instance_uid=series_uid, study=study).first()
    earlier = list(existing.instances.select_related("series")) if existing else []
    if existing and existing.series_number is not None:
        number = existing.series_number
    else:
        highest = study.series.aggregate(n=Max("series_number"))["n"] or 0
        number = max(highest + 1, 900, above + 1)
    following = max([i.instance_number or 0 for i in earlier], default=0) + 1
    return _Slot(series_number=number, next_instance_number=following, earlier=earlier)


def _instances_remove(instances: list[Instance]) -> None:
    """Drop earlier exports from the index and, after commit, their files."""
    for old in instances:
        Series.objects.filter(pk=old.series_id).update(instance_count=F("instance_count") - 1)
        Study.objects.filter(pk=old.series.study_id).update(
            instance_count=F("instance_count") - 1, size_bytes=F("size_bytes") - old.size_bytes
        )
        key = old.storage_key
        old.delete()
        transaction.on_commit(lambda key=key: storage.file_delete(key))


def study_annotations_export(*, study: Study, user) -> Exported:
    """Store the study's annotations into it, replacing the earlier export."""
    state_series, report_series = presentation_series_uid(study), report_series_uid(study)
    annotations = [
        a
        # The clinic's own marks: a specialist's stay with their share and consult.
        for a in study_annotations(study, share_key="")
        if a.instance.series.series_instance_uid not in (state_series, report_series)
    ]
    if not annotations:
        raise NothingToExport("The study has no annotations to export.")
    images: dict[int, Dataset] = {}
    groups: dict[tuple, list[Annotation]] = defaultdict(list)
    for annotation in annotations:
        if annotation.instance_id not in images:
            images[annotation.instance_id] = image_dataset(annotation.instance)
        groups[_group_key(images[annotation.instance_id])].append(annotation)

    state_slot = _slot(study, state_series)
    states = []
    for number, group in enumerate(groups.values(), start=state_slot.next_instance_number):
        states.append(
            presentation_state_build(
                study=study,
                annotations=group,
                images=images,
                series_uid=state_series,
                series_number=state_slot.series_number,
                instance_number=number,
                user=user,
            )  # fmt: skip
        )
    report_slot = _slot(study, report_series, above=state_slot.series_number)
    measured = [a for a in annotations if a.values]
    report = None
    if measured:
        report = measurement_report_build(
            study=study, annotations=measured, images=images, header=states[0],
            series_uid=report_series, series_number=report_slot.series_number,
            instance_number=report_slot.next_instance_number,
        )  # fmt: skip

    with transaction.atomic():
        for ds in [*states, *([report] if report is not None else [])]:
            ingest.instance_receive_dataset(dataset=ds)
        _instances_remove(state_slot.earlier + report_slot.earlier)
        replaced = bool(state_slot.earlier or report_slot.earlier)
        StudyEvent.objects.create(
            study=study,
            kind="annotations_exported",
            user=user if getattr(user, "is_authenticated", False) else None,
            message=f"{len(annotations)} annotation(s) stored in the study as a presentation "
            f"state and a measurement report"
            + (", replacing the earlier export." if replaced else "."),
        )
        # Nothing more is arriving with the export: the study is complete again.
        ingest.studies_complete(study_ids=[study.pk])
    return Exported(
        sop_instance_uid=states[0].SOPInstanceUID,
        sop_instance_uids=[ds.SOPInstanceUID for ds in states],
        series_instance_uid=state_series,
        annotations=len(annotations),
        report_sop_instance_uid=report.SOPInstanceUID if report is not None else None,
        report_series_instance_uid=report_series,
    )
