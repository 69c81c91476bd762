"""The annotation API: who may see, draw, change and delete; values computed by the server."""

import pytest
from pydicom.uid import generate_uid
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from imaging import synthetic
from imaging.ingest import instance_receive_dataset
from imaging.models import Annotation, Instance

pytestmark = pytest.mark.django_db


def signed_in(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def receive(**fields) -> Instance:
    """Ingest a synthetic image (64×64 unless told), optionally with spacing attributes."""
    spacing = {
        key: fields.pop(key) for key in ("PixelSpacing", "ImagerPixelSpacing") if key in fields
    }
    ds = synthetic.make_dataset(**fields)
    for keyword, value in spacing.items():
        setattr(ds, keyword, value)
    return instance_receive_dataset(dataset=ds).instance


@pytest.fixture
def image() -> Instance:
    return receive(PixelSpacing=[0.5, 0.25])  # rows 0.5 mm apart, columns 0.25 mm apart


def url(instance: Instance) -> str:
    return f"/api/studies/{instance.series.study_id}/annotations/"


def draw(client, instance: Instance, tool: str, geometry, text: str = "", frame: int = 1):
    return client.post(
        url(instance),
        {"sop_instance_uid": instance.sop_instance_uid, "frame": frame, "tool": tool,
         "geometry": geometry, "text": text},
        format="json",
    )  # fmt: skip


def values(payload) -> dict:
    return {v["name"]: (v["value"], v["unit"]) for v in payload["values"]}


def test_a_vet_draws_a_length_and_the_server_measures_it_in_mm(vet, image):
    # 8 columns across (0.25 mm each) and 6 rows down (0.5 mm each): hypot(2, 3) mm.
    response = draw(signed_in(vet), image, "length", {"points": [[10, 10], [18, 16]]})
    assert response.status_code == 201, response.content
    body = response.json()
    assert values(body)["length"] == (3.61, "mm")
    assert body["calibration_source"] == "pixel_spacing"
    assert body["sop_instance_uid"] == image.sop_instance_uid
    assert body["series_instance_uid"] == image.series.series_instance_uid
    assert body["author"] == {"id": vet.pk, "name": "vet"}
    assert body["can_edit"] is True
    assert body["frame"] == 1
    assert {"created_at", "updated_at", "calibration_note", "text", "geometry"} <= body.keys()


def test_values_sent_by_the_client_are_ignored(vet, image):
    client = signed_in(vet)
    response = client.post(
        url(image),
        {"sop_instance_uid": image.sop_instance_uid, "frame": 1, "tool": "length",
         "geometry": {"points": [[0, 0], [4, 0]]},
         "values": [{"name": "length", "label": "x", "value": 999, "unit": "mm"}]},
        format="json",
    )  # fmt: skip
    assert values(response.json())["length"] == (1.0, "mm")


def test_imager_pixel_spacing_says_it_is_measured_at_the_detector(tech):
    image = receive(ImagerPixelSpacing=[0.2, 0.2])
    body = draw(signed_in(tech), image, "length", {"points": [[0, 0], [10, 0]]}).json()
    assert values(body)["length"] == (2.0, "mm")
    assert body["calibration_source"] == "imager_pixel_spacing"
    assert "measured at the detector" in body["calibration_note"]


def test_an_uncalibrated_image_measures_in_pixels_and_says_so(vet):
    image = receive()
    body = draw(signed_in(vet), image, "length", {"points": [[0, 0], [3, 4]]}).json()
    assert values(body)["length"] == (5.0, "px")
    assert body["calibration_source"] == "none"
    assert body["calibration_note"] == "not calibrated: pixels"


def test_the_list_holds_the_studys_annotations_with_who_may_edit(vet, tech, image):
    draw(signed_in(vet), image, "text", {"points": [[5, 5]]}, text="Fracture?")
    draw(signed_in(tech), image, "arrow", {"points": [[5, 5], [20, 20]]}, text="here")
    listed = signed_in(vet).get(url(image)).json()
    assert [a["tool"] for a in listed] == ["text", "arrow"]
    assert [a["can_edit"] for a in listed] == [True, False]
    assert listed[0]["text"] == "Fracture?"


def test_a_token_client_can_list_and_draw(vet, image):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=vet).key}")
    assert draw(client, image, "length", {"points": [[0, 0], [1, 0]]}).status_code == 201
    assert len(client.get(url(image)).json()) == 1


@pytest.mark.parametrize(
    ("tool", "geometry", "field"),
    [
        ("length", {"points": [[0, 0]]}, "geometry"),
        ("length", {"points": [[0, 0], ["a", 1]]}, "geometry"),
        ("angle", {"points": [[0, 0], [1, 1]]}, "geometry"),
        ("ellipse", {"points": [[0, 0], [0, 10]]}, "geometry"),
        ("calibration", {"points": [[0, 0], [10, 0]], "known_mm": 0}, "geometry"),
        ("text", {"points": [[1, 1]]}, "text"),
        ("norberg", {"left": {"center": [1, 1], "radius": 2}}, "geometry"),
        ("laser", {"points": [[0, 0], [1, 1]]}, "tool"),
    ],
)
def test_unfit_geometry_is_refused_in_plain_words(vet, image, tool, geometry, field):
    response = draw(signed_in(vet), image, tool, geometry)
    assert response.status_code == 400
    message = response.json()[field][0]
    assert isinstance(message, str) and len(message) > 10
    assert not Annotation.objects.exists()


def test_an_image_of_another_study_is_refused(vet, image):
    other = receive(study_uid=generate_uid())
    response = signed_in(vet).post(
        url(image),
        {"sop_instance_uid": other.sop_instance_uid, "frame": 1, "tool": "length",
         "geometry": {"points": [[0, 0], [1, 1]]}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400
    assert "not part of the study" in response.json()["sop_instance_uid"][0]


def test_a_frame_the_image_does_not_have_is_refused(vet, image):
    response = draw(signed_in(vet), image, "length", {"points": [[0, 0], [1, 1]]}, frame=2)
    assert response.status_code == 400
    assert "frame" in response.json()


def test_only_the_author_changes_or_deletes(vet, tech, image):
    created = draw(signed_in(vet), image, "length", {"points": [[0, 0], [4, 0]]}).json()
    one = f"/api/annotations/{created['id']}/"
    other = signed_in(tech)
    assert other.patch(one, {"text": "mine now"}, format="json").status_code == 403
    assert other.delete(one).status_code == 403
    assert Annotation.objects.get().text == ""

    author = signed_in(vet)
    changed = author.patch(one, {"geometry": {"points": [[0, 0], [0, 4]]}}, format="json")
    assert changed.status_code == 200
    assert values(changed.json())["length"] == (2.0, "mm")  # 4 rows × 0.5 mm
    assert author.patch(one, {"text": "C6"}, format="json").json()["text"] == "C6"
    assert author.delete(one).status_code == 204
    assert not Annotation.objects.exists()


def test_a_patch_with_bad_geometry_is_refused_and_changes_nothing(vet, image):
    created = draw(signed_in(vet), image, "length", {"points": [[0, 0], [4, 0]]}).json()
    response = signed_in(vet).patch(
        f"/api/annotations/{created['id']}/", {"geometry": {"points": [[0, 0]]}}, format="json"
    )
    assert response.status_code == 400
    assert Annotation.objects.get().geometry == {"points": [[0.0, 0.0], [4.0, 0.0]]}


def test_front_desk_and_outsiders_see_and_draw_nothing(front_desk, outsider, vet, image):
    created = draw(signed_in(vet), image, "length", {"points": [[0, 0], [4, 0]]}).json()
    for person in (front_desk, outsider):
        client = signed_in(person)
        assert client.get(url(image)).status_code == 403
        assert draw(client, image, "length", {"points": [[0, 0], [1, 0]]}).status_code == 403
        assert client.delete(f"/api/annotations/{created['id']}/").status_code == 403
        assert client.post(url(image) + "export").status_code == 403
    assert Annotation.objects.count() == 1


def test_anonymous_requests_are_refused(image):
    client = APIClient()
    assert client.get(url(image)).status_code == 401
    assert draw(client, image, "length", {"points": [[0, 0], [1, 0]]}).status_code == 401


def test_an_unknown_study_is_not_found(vet):
    assert signed_in(vet).get("/api/studies/999999/annotations/").status_code == 404


def test_a_manual_calibration_recomputes_the_images_measurements(vet, tech, image):
    measured = draw(signed_in(tech), image, "length", {"points": [[0, 0], [40, 0]]}).json()
    assert values(measured)["length"] == (10.0, "mm")  # 40 columns × 0.25 mm

    # A 20 mm calibration ball spans 40 columns: columns are 0.5 mm apart, rows keep the aspect.
    calibration = draw(
        signed_in(vet), image, "calibration", {"points": [[0, 0], [40, 0]], "known_mm": 20}
    ).json()
    again = signed_in(tech).get(url(image)).json()[0]
    assert values(again)["length"] == (20.0, "mm")
    assert again["calibration_source"] == "manual"
    assert "20 mm" in again["calibration_note"]

    # Changing the calibration recomputes again; deleting it returns to Pixel Spacing.
    signed_in(vet).patch(
        f"/api/annotations/{calibration['id']}/",
        {"geometry": {"points": [[0, 0], [40, 0]], "known_mm": 10}},
        format="json",
    )
    assert values(signed_in(tech).get(url(image)).json()[0])["length"] == (10.0, "mm")
    signed_in(vet).delete(f"/api/annotations/{calibration['id']}/")
    after = signed_in(tech).get(url(image)).json()
    assert [values(a)["length"] for a in after] == [(10.0, "mm")]
    assert after[0]["calibration_source"] == "pixel_spacing"


def test_a_calibration_on_another_frame_does_not_apply(vet):
    image = receive(modality="US", frames=3)
    draw(
        signed_in(vet), image, "calibration", {"points": [[0, 0], [10, 0]], "known_mm": 5}, frame=2
    )
    body = draw(signed_in(vet), image, "length", {"points": [[0, 0], [10, 0]]}, frame=1).json()
    assert body["calibration_source"] == "none"
    body = draw(signed_in(vet), image, "length", {"points": [[0, 0], [10, 0]]}, frame=2).json()
    assert values(body)["length"] == (5.0, "mm")
