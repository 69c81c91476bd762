"""Annotations drawn through a share link (a `share_key`): only the same key changes them, a
share's key never changes the clinic's, each keeps its own calibration, and the lists say who
sees what."""

import pytest

from imaging import synthetic
from imaging.annotations import (
    AnnotationForbidden,
    annotation_create,
    annotation_delete,
    annotation_update,
    image_calibration,
    study_annotations,
)
from imaging.ingest import instance_receive_dataset
from imaging.models import Annotation, Instance

pytestmark = pytest.mark.django_db
SHARE, OTHER = "share:1", "share:2"
LENGTH = {"points": [[0, 0], [40, 0]]}
CALIBRATION = {"points": [[0, 0], [40, 0]], "known_mm": 20}  # 0.5 mm per pixel


@pytest.fixture
def image() -> Instance:
    return instance_receive_dataset(dataset=synthetic.make_dataset()).instance  # no spacing


def draw(image: Instance, *, author=None, share_key: str = "", tool="length", geometry=LENGTH):
    return annotation_create(
        study=image.series.study, author=author, sop_instance_uid=image.sop_instance_uid,
        frame=1, tool=tool, geometry=geometry, share_key=share_key,
        author_label="Dr Jones (specialist, via share)" if share_key else "",
    )  # fmt: skip


def length(annotation: Annotation) -> tuple:
    annotation.refresh_from_db()
    [value] = [(v["value"], v["unit"]) for v in annotation.values if v["name"] == "length"]
    return value


def test_a_share_mark_is_stored_with_its_key_and_label_and_no_user(image, vet):
    mark = draw(image, author=vet, share_key=SHARE)
    assert (mark.share_key, mark.author, mark.via_share) == (SHARE, None, True)
    assert mark.author_name() == "Dr Jones (specialist, via share)"
    assert length(mark) == (40.0, "px")


def test_only_the_same_share_changes_or_deletes_its_marks(image, vet):
    mark = draw(image, share_key=SHARE)
    for key, author in ((OTHER, None), ("", vet), ("", None)):
        with pytest.raises(AnnotationForbidden):
            annotation_update(annotation=mark, text="x", share_key=key, author=author)
        with pytest.raises(AnnotationForbidden):
            annotation_delete(annotation=mark, share_key=key, author=author)
    assert Annotation.objects.get(pk=mark.pk).text == ""
    annotation_update(annotation=mark, text="mine", share_key=SHARE)
    assert Annotation.objects.get(pk=mark.pk).text == "mine"
    annotation_delete(annotation=mark, share_key=SHARE)
    assert not Annotation.objects.filter(pk=mark.pk).exists()


def test_the_clinics_marks_never_change_through_a_share_and_only_by_their_author(
    image, vet, administrator
):
    mark = draw(image, author=vet)
    with pytest.raises(AnnotationForbidden):
        annotation_update(annotation=mark, text="x", share_key=SHARE)
    with pytest.raises(AnnotationForbidden):
        annotation_delete(annotation=mark, share_key=SHARE)
    with pytest.raises(AnnotationForbidden):
        annotation_update(annotation=mark, text="x", author=administrator)
    annotation_update(annotation=mark, text="seen", author=vet)
    assert Annotation.objects.get(pk=mark.pk).text == "seen"


def test_a_shares_calibration_measures_only_that_shares_marks(image, vet):
    clinic = draw(image, author=vet)
    mine = draw(image, share_key=SHARE)
    theirs = draw(image, share_key=OTHER)
    calibration = draw(image, share_key=SHARE, tool="calibration", geometry=CALIBRATION)
    assert length(mine) == (20.0, "mm")
    assert length(clinic) == (40.0, "px") and length(theirs) == (40.0, "px")
    assert image_calibration(instance=image, frame=1).source == "none"
    assert image_calibration(instance=image, frame=1, share_key=SHARE).source == "manual"
    later = draw(image, share_key=SHARE)
    assert length(later) == (20.0, "mm")

    clinic_calibration = draw(image, author=vet, tool="calibration",
                              geometry={**CALIBRATION, "known_mm": 40})  # fmt: skip
    assert length(clinic) == (40.0, "mm") and length(mine) == (20.0, "mm")
    annotation_delete(annotation=calibration, share_key=SHARE)
    assert length(mine) == (40.0, "px") and length(clinic) == (40.0, "mm")
    annotation_delete(annotation=clinic_calibration, author=vet)
    assert length(clinic) == (40.0, "px")


def test_the_clinic_lists_every_mark_and_a_share_its_own_and_maybe_the_clinics(image, vet):
    study = image.series.study
    clinic = draw(image, author=vet)
    mine = draw(image, share_key=SHARE)
    theirs = draw(image, share_key=OTHER)
    assert list(study_annotations(study)) == [clinic, mine, theirs]
    assert list(study_annotations(study, share_key=SHARE)) == [clinic, mine]
    assert list(study_annotations(study, share_key=SHARE, with_clinic=False)) == [mine]


def test_the_staff_api_names_the_specialist_and_keeps_their_marks_read_only(image, vet):
    from rest_framework.test import APIClient

    mark = draw(image, share_key=SHARE)
    staff = APIClient()
    staff.force_login(vet)
    [listed] = staff.get(f"/api/studies/{image.series.study_id}/annotations/").json()
    assert listed["author"] == {"id": None, "name": "Dr Jones (specialist, via share)"}
    assert (listed["via_share"], listed["can_edit"]) == (True, False)
    detail = f"/api/annotations/{mark.pk}/"
    assert staff.patch(detail, {"text": "x"}, format="json").status_code == 403
    assert staff.delete(detail).status_code == 403
    assert Annotation.objects.get(pk=mark.pk).text == ""
