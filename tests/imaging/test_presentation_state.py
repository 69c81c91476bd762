"""Exporting a study's annotations as a Grayscale Softcopy Presentation State, checked by
DCMTK (dcmpschk), with a structured report of the values (dsrdump), stored in the study
and replaced cleanly by a later export."""

import os
import subprocess

import pytest
from pydicom import dcmread
from rest_framework.test import APIClient

from imaging import storage, synthetic
from imaging.annotation_export import presentation_series_uid
from imaging.annotations import annotation_create
from imaging.ingest import instance_receive_dataset
from imaging.measurement_report import COMPREHENSIVE_SR_SOP_CLASS
from imaging.models import Instance, Series, Study, StudyEvent
from imaging.presentation_state import GSPS_SOP_CLASS
from tests.conftest import require_executable

pytestmark = pytest.mark.django_db


def signed_in(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def study_images():
    """A DX with Pixel Spacing and a multi-frame ultrasound in one study."""
    dx = synthetic.make_dataset(modality="DX", rows=128, columns=96)
    dx.PixelSpacing = [0.2, 0.2]
    dx_instance = instance_receive_dataset(dataset=dx).instance
    us = synthetic.make_dataset(
        modality="US", study_uid=dx.StudyInstanceUID, frames=3, series_number=2, bits=8
    )
    us_instance = instance_receive_dataset(dataset=us).instance
    return dx_instance, us_instance


def annotate_everything(vet, dx: Instance, us: Instance) -> None:
    study = dx.series.study
    shapes = [
        ("length", {"points": [[10, 10], [50, 40]]}, ""),
        ("angle", {"points": [[10, 10], [30, 30], [60, 10]]}, ""),
        ("cobb", {"points": [[0, 0], [40, 5], [0, 50], [40, 40]]}, ""),
        ("arrow", {"points": [[20, 20], [60, 70]]}, "Fissure"),
        ("ellipse", {"points": [[10, 10], [40, 30]]}, ""),
        ("rectangle", {"points": [[50, 50], [80, 90]]}, ""),
        ("text", {"points": [[5, 100]]}, "Right lateral — Rex"),
        ("vhs", {"long_axis": [[20, 30], [70, 90]], "short_axis": [[30, 80], [70, 50]],
                 "vertebrae": [[10, 10], [22, 12], [34, 14], [46, 16], [58, 18]]}, ""),
        ("norberg", {"left": {"center": [30, 60], "radius": 10, "rim": [22, 48]},
                     "right": {"center": [70, 60], "radius": 10, "rim": [80, 50]}}, ""),
        ("tpa", {"plateau": [[40, 20], [60, 26]], "axis": [[50, 25], [52, 120]]}, ""),
    ]  # fmt: skip
    for tool, geometry, text in shapes:
        annotation_create(
            study=study, author=vet, sop_instance_uid=dx.sop_instance_uid, frame=1,
            tool=tool, geometry=geometry, text=text,
        )  # fmt: skip
    annotation_create(
        study=study, author=vet, sop_instance_uid=us.sop_instance_uid, frame=2,
        tool="calibration", geometry={"points": [[0, 0], [20, 0]], "known_mm": 10}, text="",
    )  # fmt: skip
    annotation_create(
        study=study, author=vet, sop_instance_uid=us.sop_instance_uid, frame=2,
        tool="length", geometry={"points": [[0, 0], [40, 0]]}, text="",
    )  # fmt: skip


def export(client, study: Study):
    return client.post(f"/api/studies/{study.pk}/annotations/export")


def stored_file(tmp_path, sop_instance_uid: str):
    instance = Instance.objects.get(sop_instance_uid=sop_instance_uid)
    path = tmp_path / f"{sop_instance_uid}.dcm"
    with storage.instance_open(instance.storage_key) as handle:
        path.write_bytes(handle.read())
    return instance, path


def dcmpschk_report(dcmpschk: str, path) -> str:
    result = subprocess.run(
        [dcmpschk, str(path)],
        capture_output=True, text=True, env={**os.environ, "TCP_NODELAY": "1"}, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_export_is_a_valid_presentation_state_stored_in_the_study(vet, study_images, tmp_path):
    dcmpschk = require_executable("dcmpschk")
    dx, us = study_images
    study = dx.series.study
    annotate_everything(vet, dx, us)

    response = export(signed_in(vet), study)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["annotations"] == 12
    assert body["series_instance_uid"] == presentation_series_uid(study)
    # A DX and an ultrasound are different SOP classes: one presentation state for each.
    assert len(body["sop_instance_uids"]) == 2
    assert body["sop_instance_uid"] == body["sop_instance_uids"][0]

    states = {}
    for uid in body["sop_instance_uids"]:
        instance, path = stored_file(tmp_path, uid)
        assert instance.series.study_id == study.pk
        assert instance.series.modality == "PR"
        assert instance.sop_class_uid == GSPS_SOP_CLASS
        report = dcmpschk_report(dcmpschk, path)
        assert "Test passed" in report, report
        assert "E: " not in report and "Test failed" not in report, report
        states[uid] = dcmread(path)

    referenced = {}
    for ds in states.values():
        assert ds.PatientName == "Smith^Rex"
        assert ds.PatientSpeciesDescription == "Canine"
        assert ds.StudyInstanceUID == study.study_instance_uid
        assert ds.ContentLabel == "ANNOTATIONS"
        for series in ds.ReferencedSeriesSequence:
            for image in series.ReferencedImageSequence:
                referenced[image.ReferencedSOPInstanceUID] = ds
    assert set(referenced) == {dx.sop_instance_uid, us.sop_instance_uid}

    on_dx = referenced[dx.sop_instance_uid]
    kinds = {g.GraphicType for item in on_dx.GraphicAnnotationSequence
             for g in item.get("GraphicObjectSequence", [])}  # fmt: skip
    assert {"POLYLINE", "CIRCLE", "ELLIPSE", "POINT", "INTERPOLATED"} <= kinds
    texts = [t.UnformattedTextValue for item in on_dx.GraphicAnnotationSequence
             for t in item.get("TextObjectSequence", [])]  # fmt: skip
    assert any("VHS: " in t for t in texts)
    assert any("Fissure" in t for t in texts)
    assert any("Norberg angle, left: " in t for t in texts)
    # The length on the DX: hypot(40, 30) px × 0.2 mm, drawn from pixel corner coordinates.
    assert any("Length: 10 mm" in t for t in texts)
    length = on_dx.GraphicAnnotationSequence[0].GraphicObjectSequence[0]
    assert [float(v) for v in length.GraphicData] == [10.5, 10.5, 50.5, 40.5]
    assert {layer.GraphicLayer for layer in on_dx.GraphicLayerSequence} == {
        "MEASUREMENTS", "ANNOTATIONS"
    }  # fmt: skip

    # The ultrasound length sits on frame 2, measured with that frame's manual calibration.
    on_us = referenced[us.sop_instance_uid]
    frames = {item.ReferencedImageSequence[0].ReferencedFrameNumber
              for item in on_us.GraphicAnnotationSequence}  # fmt: skip
    assert frames == {2}
    assert any("Length: 20 mm" in t.UnformattedTextValue
               for item in on_us.GraphicAnnotationSequence
               for t in item.get("TextObjectSequence", []))  # fmt: skip


def test_exporting_again_replaces_the_earlier_export(
    vet, study_images, django_capture_on_commit_callbacks
):
    dx, us = study_images
    study = dx.series.study
    client = signed_in(vet)
    annotation_create(
        study=study, author=vet, sop_instance_uid=dx.sop_instance_uid, frame=1,
        tool="length", geometry={"points": [[0, 0], [10, 0]]}, text="",
    )  # fmt: skip
    first = export(client, study).json()
    annotation_create(
        study=study, author=vet, sop_instance_uid=dx.sop_instance_uid, frame=1,
        tool="text", geometry={"points": [[5, 5]]}, text="Second look",
    )  # fmt: skip
    first_key = Instance.objects.get(sop_instance_uid=first["sop_instance_uid"]).storage_key
    with django_capture_on_commit_callbacks(execute=True):
        second = export(client, study).json()

    assert second["series_instance_uid"] == first["series_instance_uid"]
    assert second["sop_instance_uid"] != first["sop_instance_uid"]
    assert second["annotations"] == 2
    series = Series.objects.get(series_instance_uid=first["series_instance_uid"])
    assert [i.sop_instance_uid for i in series.instances.all()] == [second["sop_instance_uid"]]
    assert not Instance.objects.filter(sop_instance_uid=first["sop_instance_uid"]).exists()
    assert not storage.storage().exists(first_key)
    assert series.instance_count == 1
    study.refresh_from_db()
    # The DX, the ultrasound, one presentation state and one measurement report.
    assert study.instance_count == 4
    assert study.series_count == 4
    assert second["report_sop_instance_uid"] != first["report_sop_instance_uid"]
    assert not Instance.objects.filter(sop_instance_uid=first["report_sop_instance_uid"]).exists()
    assert study.instance_count == Instance.objects.filter(series__study=study).count()
    assert StudyEvent.objects.filter(study=study, kind="annotations_exported").count() == 2
    # The presentation state is not itself exported as an annotated image.
    listed = client.get(f"/api/studies/{study.pk}/instances/").json()
    assert second["sop_instance_uid"] in {i["sop_instance_uid"] for i in listed["results"]}


def test_a_study_without_annotations_has_nothing_to_export(vet, study_images):
    dx, _ = study_images
    response = export(signed_in(vet), dx.series.study)
    assert response.status_code == 400
    assert "no annotations" in response.json()["detail"]
    assert not Instance.objects.filter(sop_class_uid=GSPS_SOP_CLASS).exists()


def test_front_desk_cannot_export(front_desk, vet, study_images):
    dx, _ = study_images
    annotation_create(
        study=dx.series.study, author=vet, sop_instance_uid=dx.sop_instance_uid, frame=1,
        tool="length", geometry={"points": [[0, 0], [10, 0]]}, text="",
    )  # fmt: skip
    assert export(signed_in(front_desk), dx.series.study).status_code == 403
    assert not Instance.objects.filter(sop_class_uid=GSPS_SOP_CLASS).exists()


def test_export_stores_the_values_as_a_structured_report(vet, study_images, tmp_path):
    dsrdump = require_executable("dsrdump")
    dx, us = study_images
    annotate_everything(vet, dx, us)
    body = export(signed_in(vet), dx.series.study).json()

    instance, path = stored_file(tmp_path, body["report_sop_instance_uid"])
    assert instance.series.modality == "SR"
    assert instance.series.series_instance_uid == body["report_series_instance_uid"]
    assert instance.sop_class_uid == COMPREHENSIVE_SR_SOP_CLASS
    result = subprocess.run(
        [dsrdump, "-Ee", "-Ec", str(path)],
        capture_output=True, text=True, env={**os.environ, "TCP_NODELAY": "1"}, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "E: " not in result.stdout + result.stderr, result.stdout + result.stderr
    dump = result.stdout
    assert 'NUM:(,,"VHS")=' in dump
    assert '<contains NUM:(,,"Length")="10" (mm,UCUM,"mm")>' in dump  # 50 px × 0.2 mm
    assert '(deg,UCUM,"degrees of plane angle")' in dump
    # Arrows and free text measure nothing: 12 annotations, 10 measurement groups.
    assert dump.count('CONTAINER:(,,"Measurement Group")') == 10

    ds = dcmread(path)
    evidence = ds.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == dx.series.study.study_instance_uid
    assert {ref.ReferencedSOPInstanceUID for series in evidence.ReferencedSeriesSequence
            for ref in series.ReferencedSOPSequence} == {dx.sop_instance_uid, us.sop_instance_uid}  # fmt: skip
