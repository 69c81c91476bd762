"""The REST API for studies, series, instances and thumbnails: who sees what, filters, payload."""

import io
from datetime import timedelta
from itertools import count

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image
from pydicom.uid import generate_uid
from rest_framework.test import APIClient

from clinic.models import Owner, Patient, Species
from imaging.models import Instance, Series, Study, StudyEvent, StudyStatus, ThumbnailState

pytestmark = pytest.mark.django_db

_numbers = count(1)


def signed_in(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def make_patient(name: str = "Rex", *, owner: str = "Smith", **fields) -> Patient:
    return Patient.objects.create(
        name=name,
        patient_id=f"P-{next(_numbers)}",
        owner=Owner.objects.create(last_name=owner),
        species=fields.pop("species", Species.CANINE),
        **fields,
    )


def make_study(
    patient: Patient | None = None,
    *,
    modality: str = "DX",
    series: int = 1,
    instances: int = 1,
    thumbnails: str = ThumbnailState.DONE,
    **fields,
) -> Study:
    """A study as ingest would have indexed it: `series` series of `instances` instances each."""
    study = Study.objects.create(
        study_instance_uid=generate_uid(),
        patient=patient or make_patient(),
        modalities=fields.pop("modalities", modality),
        status=fields.pop("status", StudyStatus.COMPLETE),
        series_count=series,
        instance_count=series * instances,
        **fields,
    )
    for number in range(1, series + 1):
        one = Series.objects.create(
            study=study, series_instance_uid=generate_uid(), series_number=number,
            modality=modality, instance_count=instances,
        )  # fmt: skip
        for instance_number in range(1, instances + 1):
            Instance.objects.create(
                series=one, sop_instance_uid=generate_uid(), sop_class_uid="1.2.840.10008.5.1.4.1.1.1.1",
                instance_number=instance_number, transfer_syntax_uid="1.2.840.10008.1.2.1",
                size_bytes=1024, sha256="0" * 64, storage_key=f"dicom/{generate_uid()}.dcm",
                thumbnail_state=thumbnails,
            )  # fmt: skip
    return study


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (8, 8), color=128).save(buffer, format="PNG")
    return buffer.getvalue()


def save_thumbnail(record: Series | Instance) -> bytes:
    """Store a PNG the way the renderer does and point the record at it."""
    data = png_bytes()
    record.thumbnail_key = default_storage.save(f"thumbnails/{record.pk}.png", ContentFile(data))
    record.save(update_fields=["thumbnail_key"])
    return data


def listed(client: APIClient, **filters) -> list[int]:
    response = client.get("/api/studies/", filters)
    assert response.status_code == 200, response.json()
    return [study["id"] for study in response.json()["results"]]


# Who sees what


def test_an_outsider_sees_none_of_the_clinics_studies(outsider):
    study = make_study()
    client = signed_in(outsider)

    assert client.get("/api/studies/").status_code == 403
    assert client.get(f"/api/studies/{study.pk}/").status_code == 403
    assert client.get(f"/api/studies/{study.pk}/series/").status_code == 403
    assert client.get(f"/api/series/{study.series.get().pk}/thumbnail").status_code == 403


def test_front_desk_can_create_a_patient_but_cannot_list_studies(front_desk):
    make_study()
    client = signed_in(front_desk)

    created = client.post("/api/patients/", {"patient_id": "P-NEW", "name": "Bella"}, format="json")

    assert created.status_code == 201
    assert client.get("/api/studies/").status_code == 403


def test_unauthenticated_requests_see_no_studies():
    make_study()

    assert APIClient().get("/api/studies/").status_code in (401, 403)


def test_a_vet_reads_a_study_and_its_series(vet):
    study = make_study(series=2)
    client = signed_in(vet)

    assert client.get(f"/api/studies/{study.pk}/").status_code == 200
    assert client.get(f"/api/studies/{study.pk}/series/").json()["count"] == 2


def test_a_technician_moves_a_wrong_patient_arrival_to_the_right_patient(tech):
    study = make_study(make_patient("Unknown", verified=False))
    rex = make_patient("Rex")

    response = signed_in(tech).patch(
        f"/api/studies/{study.pk}/", {"patient": rex.pk}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["patient"]["name"] == "Rex"
    study.refresh_from_db()
    assert study.patient == rex
    assert StudyEvent.objects.filter(study=study, kind="patient_reassigned", user=tech).exists()


def test_front_desk_cannot_move_a_study(front_desk):
    study = make_study()
    rex = make_patient("Rex")

    response = signed_in(front_desk).patch(
        f"/api/studies/{study.pk}/", {"patient": rex.pk}, format="json"
    )

    assert response.status_code == 403
    study.refresh_from_db()
    assert study.patient != rex


def test_studies_are_not_created_or_deleted_through_the_api(administrator):
    study = make_study()
    client = signed_in(administrator)

    assert client.post("/api/studies/", {}, format="json").status_code == 405
    assert client.delete(f"/api/studies/{study.pk}/").status_code == 405


def test_front_desk_confirms_a_patient_and_their_studies_record_it(front_desk):
    stray = make_patient("Stray", verified=False)
    study = make_study(stray)

    response = signed_in(front_desk).post(f"/api/patients/{stray.pk}/verify")

    assert response.status_code == 200
    assert response.json()["verified"] is True
    stray.refresh_from_db()
    assert stray.verified is True
    assert StudyEvent.objects.filter(study=study, kind="patient_verified", user=front_desk).exists()


def test_an_outsider_cannot_confirm_a_patient(outsider):
    stray = make_patient("Stray", verified=False)

    assert signed_in(outsider).post(f"/api/patients/{stray.pk}/verify").status_code == 403
    stray.refresh_from_db()
    assert stray.verified is False


def test_a_study_that_does_not_exist_is_404(tech):
    client = signed_in(tech)

    assert client.get("/api/studies/999999/").status_code == 404
    assert client.get("/api/studies/999999/series/").status_code == 404
    assert client.get("/api/series/999999/thumbnail").status_code == 404


# Filters and search


def test_a_technician_filters_todays_dx_studies(tech):
    now = timezone.now()
    today = timezone.localdate()
    todays_dx = make_study(modality="DX", received_at=now)
    make_study(modality="US", received_at=now)
    make_study(modality="DX", received_at=now - timedelta(days=2))

    found = listed(signed_in(tech), received_after=today.isoformat(), modality="dx")

    assert found == [todays_dx.pk]


def test_studies_are_listed_newest_arrival_first_within_a_date_range(tech):
    now = timezone.now()
    older = make_study(received_at=now - timedelta(hours=30))
    newer = make_study(received_at=now - timedelta(hours=26))
    make_study(received_at=now)
    window = {
        "received_after": (now - timedelta(days=2)).isoformat(),
        "received_before": (now - timedelta(days=1)).isoformat(),
    }

    assert listed(signed_in(tech), **window) == [newer.pk, older.pk]


def test_a_modality_filter_matches_whole_values_of_modalities_in_study(tech):
    ct_with_sr = make_study(modalities="CT\\SR")
    make_study(modalities="IVUS")
    ultrasound = make_study(modalities="US")
    client = signed_in(tech)

    assert listed(client, modality="CT") == [ct_with_sr.pk]
    assert listed(client, modality="SR") == [ct_with_sr.pk]
    assert listed(client, modality="US") == [ultrasound.pk]


def test_studies_are_filtered_by_study_date_and_patient(tech):
    rex = make_patient("Rex")
    on_day = make_study(rex, study_date=timezone.localdate() - timedelta(days=7))
    make_study(rex, study_date=timezone.localdate())
    make_study(make_patient("Bella"), study_date=on_day.study_date)
    client = signed_in(tech)

    assert listed(client, study_date=on_day.study_date.isoformat(), patient=rex.pk) == [on_day.pk]


def test_studies_are_filtered_by_what_a_technician_must_do(tech):
    receiving = make_study(status=StudyStatus.RECEIVING)
    pending = make_study(thumbnails=ThumbnailState.PENDING, series=2, instances=2)
    unverified = make_study(make_patient("Stray", verified=False))
    client = signed_in(tech)

    assert listed(client, status="receiving") == [receiving.pk]
    assert listed(client, status="thumbnails_pending") == [pending.pk]
    assert listed(client, status="unverified") == [unverified.pk]
    assert set(listed(client, status="complete")) == {pending.pk, unverified.pk}


def test_studies_are_searched_by_animal_owner_patient_id_or_accession(tech):
    rex = make_study(make_patient("Rex", owner="Smith"), accession_number="ACC-1")
    bella = make_study(make_patient("Bella", owner="Jones"), accession_number="ACC-2")
    client = signed_in(tech)

    assert listed(client, q="rex") == [rex.pk]
    assert listed(client, q="jones") == [bella.pk]
    assert listed(client, q=bella.patient.patient_id) == [bella.pk]
    assert listed(client, q="ACC-1") == [rex.pk]


def test_a_bad_filter_value_is_a_clear_400(tech):
    response = signed_in(tech).get(
        "/api/studies/", {"status": "lost", "received_after": "yesterday"}
    )

    assert response.status_code == 400
    assert set(response.json()) == {"status", "received_after"}


def test_the_study_list_is_paginated(tech):
    for _ in range(3):
        make_study()

    page = signed_in(tech).get("/api/studies/", {"limit": 2}).json()

    assert page["count"] == 3
    assert len(page["results"]) == 2
    assert "offset=2" in page["next"]


def test_the_study_list_costs_the_same_queries_for_one_study_or_many(
    tech, django_assert_max_num_queries
):
    client = signed_in(tech)
    make_study(series=1)
    with CaptureQueriesContext(connection) as one_study:
        assert client.get("/api/studies/").status_code == 200

    for _ in range(5):
        make_study(
            make_patient("Bella", verified=False), series=3, thumbnails=ThumbnailState.PENDING
        )
    with django_assert_max_num_queries(len(one_study)):
        response = client.get("/api/studies/")

    assert response.json()["count"] == 6


# Payload


def test_a_study_shows_its_patient_counts_status_and_links(tech):
    patient = make_patient(
        "Rex", owner="Smith", breed="Beagle", species=Species.OTHER, species_text="Dingo"
    )
    study = make_study(
        patient, modalities="CT\\SR", series=2, instances=3, sending_ae_title="CT_ROOM",
        thumbnails=ThumbnailState.PENDING, status=StudyStatus.RECEIVING,
    )  # fmt: skip
    first = study.series.get(series_number=1)
    save_thumbnail(first)

    body = signed_in(tech).get(f"/api/studies/{study.pk}/").json()

    assert body["patient"] == {
        "id": patient.pk, "patient_id": patient.patient_id, "name": "Rex", "species": "other",
        "species_label": "Dingo", "breed": "Beagle", "owner_name": "Smith", "verified": True,
    }  # fmt: skip
    assert body["modalities"] == ["CT", "SR"]
    assert (body["series_count"], body["instance_count"]) == (2, 6)
    assert body["status"] == "receiving"
    assert body["statuses"] == ["receiving", "thumbnails_pending"]
    assert body["sending_ae_title"] == "CT_ROOM"
    assert body["received_at"] and body["updated_at"]
    assert body["series_url"].endswith(f"/api/studies/{study.pk}/series/")
    assert body["instances_url"].endswith(f"/api/studies/{study.pk}/instances/")
    assert [(t["series_number"], t["thumbnail_ready"]) for t in body["thumbnails"]] == [
        (1, True),
        (2, False),
    ]
    assert body["thumbnails"][0]["thumbnail_url"].endswith(f"/api/series/{first.pk}/thumbnail")


def test_series_come_in_series_number_order_with_their_instances(tech):
    study = make_study(series=3, instances=2)
    client = signed_in(tech)

    series = client.get(f"/api/studies/{study.pk}/series/").json()["results"]
    assert [s["series_number"] for s in series] == [1, 2, 3]

    instances = client.get(series[1]["instances_url"]).json()["results"]
    assert [i["instance_number"] for i in instances] == [1, 2]
    assert {i["series"] for i in instances} == {series[1]["id"]}

    all_of_study = client.get(f"/api/studies/{study.pk}/instances/").json()
    assert all_of_study["count"] == 6


# Thumbnails


def test_a_thumbnail_is_404_with_a_reason_until_rendered(tech):
    study = make_study(thumbnails=ThumbnailState.PENDING)
    series = study.series.get()
    instance = series.instances.get()
    client = signed_in(tech)

    for url in (f"/api/series/{series.pk}/thumbnail", f"/api/instances/{instance.pk}/thumbnail"):
        response = client.get(url, HTTP_ACCEPT="image/png")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json() == {
            "detail": response.json()["detail"],
            "thumbnail_state": "pending",
        }
        assert "not been rendered yet" in response.json()["detail"]


def test_thumbnail_returns_a_png_once_rendered(tech):
    study = make_study()
    series = study.series.get()
    instance = series.instances.get()
    series_png = save_thumbnail(series)
    instance_png = save_thumbnail(instance)
    client = signed_in(tech)

    for url, expected in (
        (f"/api/series/{series.pk}/thumbnail", series_png),
        (f"/api/instances/{instance.pk}/thumbnail", instance_png),
    ):
        response = client.get(url, HTTP_ACCEPT="image/png")
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert b"".join(response.streaming_content) == expected


def test_an_instance_that_could_not_be_drawn_shows_its_placeholder_and_says_why(tech):
    study = make_study(thumbnails=ThumbnailState.FAILED)
    instance = Instance.objects.get(series__study=study)
    placeholder = save_thumbnail(instance)
    instance.thumbnail_error = "Cannot display: unsupported transfer syntax"
    instance.save(update_fields=["thumbnail_error"])
    client = signed_in(tech)

    picture = client.get(f"/api/instances/{instance.pk}/thumbnail")
    record = client.get(f"/api/instances/{instance.pk}/").json()

    assert picture.status_code == 200
    assert b"".join(picture.streaming_content) == placeholder
    assert record["thumbnail_state"] == "failed"
    assert record["thumbnail_error"] == "Cannot display: unsupported transfer syntax"


def test_an_instance_that_failed_without_a_placeholder_is_404_with_the_reason(tech):
    study = make_study(thumbnails=ThumbnailState.FAILED)
    instance = Instance.objects.get(series__study=study)
    instance.thumbnail_error = "Unsupported transfer syntax"
    instance.save(update_fields=["thumbnail_error"])

    response = signed_in(tech).get(f"/api/instances/{instance.pk}/thumbnail")

    assert response.status_code == 404
    assert response.json()["thumbnail_state"] == "failed"
    assert "Unsupported transfer syntax" in response.json()["detail"]


def test_a_thumbnail_missing_from_storage_is_404_not_a_crash(tech):
    series = make_study().series.get()
    series.thumbnail_key = "thumbnails/gone.png"
    series.save(update_fields=["thumbnail_key"])

    response = signed_in(tech).get(f"/api/series/{series.pk}/thumbnail")

    assert response.status_code == 404
    assert response.json()["thumbnail_state"] == "missing"
