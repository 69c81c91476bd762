"""WADO-RS metadata (PS3.18 10.4.1.1.2): every instance's header as DICOM JSON.

A viewer opening a 500-slice CT asks for the series' metadata first, and reading 500 headers
takes a while, so a series' metadata is kept on storage once built: one JSON object per line,
under a key made of the series' instance count, newest arrival and newest row, so any new,
replaced or removed instance makes a new key. The patient module is not kept there but taken
from the index when served (a study moved to its right patient shows that patient).
"""

from __future__ import annotations

import json

from django.db.models import Count, F, Max

from imaging import storage
from imaging.dicomweb.dicomjson import ROOT_PLACEHOLDER, Json, dataset_json
from imaging.dicomweb.index_json import PATIENT_TAGS, patient_json
from imaging.dicomweb.pixels import header_read, layout_remember
from imaging.models import Instance, Series, Study

_FOLDER = "dicomweb-metadata"


def instance_metadata_line(instance: Instance, *, study_uid: str, series_uid: str) -> str:
    """One instance's header as a JSON object without the patient module, URIs unrooted."""
    url = (
        f"{ROOT_PLACEHOLDER}/studies/{study_uid}/series/{series_uid}"
        f"/instances/{instance.sop_instance_uid}/bulkdata"
    )
    with storage.instance_open(instance.storage_key) as handle:
        ds, layout = header_read(handle)
    layout_remember(instance.storage_key, layout)  # the viewer asks for frames next
    out = dataset_json(ds, bulk_url=url, layout=layout)
    for tag in PATIENT_TAGS:
        out.pop(tag, None)
    tsyntax = str(ds.file_meta.get("TransferSyntaxUID", "") or instance.transfer_syntax_uid)
    # Where each frame can be had, as stored (PS3.18 10.6.3.3.4); viewers also read (0002,0010).
    out["00020010"] = {"vr": "UI", "Value": [tsyntax]}
    out["00083002"] = {"vr": "UI", "Value": [tsyntax]}
    return json.dumps(dict(sorted(out.items())), separators=(",", ":"), ensure_ascii=False)


def _ordered(instances):
    return instances.order_by(F("instance_number").asc(nulls_last=True), "received_at", "pk")


def series_metadata_lines(series: Series, *, study_uid: str) -> list[str]:
    """The series' instances as JSON lines, from the kept copy when it is current."""
    state = series.instances.aggregate(n=Count("pk"), last=Max("received_at"), top=Max("pk"))
    if not state["n"]:
        return []
    stamp = f"{state['n']}-{state['last'].timestamp():.6f}-{state['top']}"
    folder = f"{_FOLDER}/{study_uid}/{series.series_instance_uid}"
    key = f"{folder}/{stamp}.jsonl"
    store = storage.storage()
    try:
        with store.open(key, "rb") as handle:
            return handle.read().decode("utf-8").splitlines()
    except (FileNotFoundError, OSError):
        pass
    lines = [
        instance_metadata_line(i, study_uid=study_uid, series_uid=series.series_instance_uid)
        for i in _ordered(series.instances.all()).only(
            "sop_instance_uid", "storage_key", "transfer_syntax_uid"
        )
    ]
    _keep(key, "\n".join(lines).encode("utf-8"), folder=folder)
    return lines


def _keep(key: str, data: bytes, *, folder: str) -> None:
    """Write the new version whole, then drop older versions."""
    storage.derived_save(key, data)
    store = storage.storage()
    try:
        _, files = store.listdir(folder)
    except (OSError, NotImplementedError):  # no folder yet, or a store that cannot list
        return
    name = key.rsplit("/", 1)[1]
    for other in files:
        if other != name and not other.endswith(".part"):
            storage.file_delete(f"{folder}/{other}")


def render(lines: list[str], *, patient: Json, root: str) -> bytes:
    """The JSON array served: each instance with the index's patient module, URIs rooted."""
    head = json.dumps(patient, separators=(",", ":"), ensure_ascii=False)[:-1]
    objects = [(head + "," + line[1:]) if line != "{}" else head + "}" for line in lines]
    text = "[" + ",".join(objects) + "]"
    return text.replace(ROOT_PLACEHOLDER, root).encode("utf-8")


def series_metadata(series: Series, *, study: Study, root: str) -> bytes:
    lines = series_metadata_lines(series, study_uid=study.study_instance_uid)
    return render(lines, patient=patient_json(study.patient), root=root)


def study_metadata(study: Study, series_list: list[Series], *, root: str) -> bytes:
    lines: list[str] = []
    for series in series_list:
        lines.extend(series_metadata_lines(series, study_uid=study.study_instance_uid))
    return render(lines, patient=patient_json(study.patient), root=root)


def instance_metadata(instance: Instance, *, study: Study, series_uid: str, root: str) -> bytes:
    line = instance_metadata_line(
        instance, study_uid=study.study_instance_uid, series_uid=series_uid
    )
    return render([line], patient=patient_json(study.patient), root=root)


def series_metadata_warm(*, series_id: int) -> None:
    """Build a series' kept metadata ahead of the first viewer (e.g. once its thumbnails are
    drawn), so opening a large series does not wait for its headers to be read."""
    series = Series.objects.select_related("study").filter(pk=series_id).first()
    if series is not None:
        series_metadata_lines(series, study_uid=series.study.study_instance_uid)
