"""Staff pages through Django's test client: who sees what, filters, live rows, study and thumbnails."""

import io
import itertools
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from clinic.models import Owner, Patient, Species
from clinic.queue import wait_for_local_tasks
from imaging import storage
from imaging.ingest import instance_receive_dataset
from imaging.models import Device, Instance, Series, Study, StudyEvent, StudyStatus, ThumbnailState
from imaging.synthetic import make_dataset

pytestmark = pytest.mark.django_db

_uids = itertools.count(1)


def _uid() -> str:
    return f"1.2.826.0.1.3680043.10.999.{next(_uids)}"


def _patient(
    name="Rex", patient_id=None, *, owner_last="Smith", species=Species.CANINE, verified=True
):
    owner = (
        Owner.objects.create(last_name=owner_last, first_name="Jo", phone="0123 456")
        if owner_last
        else None
    )
    return Patient.objects.create(
        patient_id=patient_id or f"P-{next(_uids)}",
        name=name,
        owner=owner,
        species=species,
        breed="Labrador Retriever",
        verified=verified,
    )


def _study(
    patient=None,
    *,
    description="Thorax 3 view",
    modalities="DX",
    accession="",
    status=StudyStatus.COMPLETE,
    received_at=None,
    series_numbers=(1,),
    thumbnail_state=ThumbnailState.DONE,
    device=None,
):
    """A study as ingest leaves it: series with one instance each, counts filled in."""
    study = Study.objects.create(
        study_instance_uid=_uid(),
        patient=patient or _patient(),
        description=description,
        modalities=modalities,
        accession_number=accession,
        status=status,
        received_at=received_at or timezone.now(),
        sending_ae_title="DR_ROOM_1",
        device=device,
        series_count=len(series_numbers),
        instance_count=len(series_numbers),
    )
    for number in series_numbers:
        series = Series.objects.create(
            study=study,
            series_instance_uid=_uid(),
            series_number=number,
            modality=modalities.split("\\")[0],
            description=f"View {number}",
            view_position="VD",
            instance_count=1,
        )
        Instance.objects.create(
            series=series,
            sop_instance_uid=_uid(),
            sop_class_uid="1.2.840.10008.5.1.4.1.1.1.1",
            instance_number=1,
            transfer_syntax_uid="1.2.840.10008.1.2.1",
            size_bytes=1000,
            sha256="0" * 64,
            storage_key=f"dicom/{study.study_instance_uid}/x.dcm",
            thumbnail_state=thumbnail_state,
        )
    return study


def _png(width=8, height=6) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 128).save(buffer, format="PNG")
    return buffer.getvalue()


def _arrivals(client, **params):
    return client.get(reverse("arrivals"), params)


def _login(client, user):
    client.force_login(user)
    return client


# Who sees what ------------------------------------------------------------------------------


def _protected_urls(study, patient):
    series = study.series.first()
    instance = Instance.objects.filter(series=series).first()
    return {
        "arrivals": reverse("arrivals"),
        "rows": reverse("arrivals-rows"),
        "study": reverse("study-detail", args=[study.pk]),
        "study-live": reverse("study-live", args=[study.pk]),
        "series-thumbnail": reverse("series-thumbnail", args=[series.pk]),
        "instance-thumbnail": reverse("instance-thumbnail", args=[instance.pk]),
        "patients": reverse("patient-list"),
        "patient": reverse("patient-detail", args=[patient.pk]),
        "owner": reverse("owner-detail", args=[patient.owner_id]),
    }


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    patient = _patient()
    for name, url in _protected_urls(_study(patient), patient).items():
        response = client.get(url)
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("login") + "?next="), name


def test_an_outsider_sees_nothing_of_the_clinic(client, outsider):
    patient = _patient()
    _login(client, outsider)
    for name, url in _protected_urls(_study(patient), patient).items():
        response = client.get(url)
        assert response.status_code == 403, name
    page = client.get(reverse("arrivals")).content.decode()
    assert "isn't part of your role" in page
    assert "Rex" not in page


def test_front_desk_opens_patients_but_not_imaging(client, front_desk):
    patient = _patient("Bella")
    urls = _protected_urls(_study(patient), patient)
    _login(client, front_desk)
    for name in (
        "arrivals",
        "rows",
        "study",
        "study-live",
        "series-thumbnail",
        "instance-thumbnail",
    ):
        assert client.get(urls[name]).status_code == 403, name
    assert "Bella" in client.get(urls["patients"]).content.decode()
    detail = client.get(urls["patient"])
    assert detail.status_code == 200
    assert "Studies" not in detail.content.decode()  # studies are imaging, not front desk's
    assert client.get(urls["owner"]).status_code == 200
    nav = detail.content.decode()
    assert reverse("patient-list") in nav and 'href="/">Arrivals' not in nav


def test_technician_sees_arrivals_studies_and_the_patients_studies(client, tech):
    patient = _patient("Rex")
    study = _study(patient, description="Thorax 3 view")
    _login(client, tech)
    assert "Thorax 3 view" in _arrivals(client).content.decode()
    assert client.get(reverse("study-detail", args=[study.pk])).status_code == 200
    detail = client.get(reverse("patient-detail", args=[patient.pk])).content.decode()
    assert "Studies" in detail and study.get_absolute_url() in detail


def test_each_role_lands_on_its_first_page_after_signing_in(client, tech, front_desk):
    response = client.post(reverse("login"), {"username": "frontdesk", "password": "pw-frontdesk"})
    assert response["Location"] == reverse("patient-list")
    client.post(reverse("logout"))
    response = client.post(reverse("login"), {"username": "tech", "password": "pw-tech"})
    assert response["Location"] == reverse("arrivals")


def test_signing_out_is_a_form_post(client, tech):
    _login(client, tech)
    page = _arrivals(client).content.decode()
    assert f'method="post" action="{reverse("logout")}"' in page
    client.post(reverse("logout"))
    assert client.get(reverse("arrivals")).status_code == 302


def test_a_wrong_password_is_answered_plainly(client, tech):
    response = client.post(reverse("login"), {"username": "tech", "password": "nope"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


# Arrivals -----------------------------------------------------------------------------------


def test_empty_arrivals_tell_the_technician_where_to_send(client, tech, settings):
    settings.DICOM_AE_TITLE = "VETPORTAL"
    settings.DICOM_PORT = 11112
    _login(client, tech)
    page = _arrivals(client).content.decode()
    assert "Nothing received yet today" in page
    assert "VETPORTAL" in page and "11112" in page


def test_arrivals_show_todays_studies_newest_first_with_their_facts(client, tech):
    device = Device.objects.create(name="DR room 1", ae_title="DR_ROOM_1")
    now = timezone.now()
    _study(_patient("Older"), received_at=now - timedelta(minutes=5))
    _study(
        _patient("Newer", "P-77", owner_last="Müller", verified=False),
        description="Abdomen",
        modalities="US",
        device=device,
        status=StudyStatus.RECEIVING,
        thumbnail_state=ThumbnailState.PENDING,
        received_at=now,
    )
    _study(_patient("Yesterday"), received_at=now - timedelta(days=1, hours=1))
    _login(client, tech)
    page = _arrivals(client).content.decode()
    assert page.index("Newer") < page.index("Older")
    assert "Yesterday" not in page
    for text in ("Müller", "Canine", "Labrador Retriever", "Abdomen", "US", "DR room 1", "P-77"):
        assert text in page, text
    for badge in ("Receiving", "Complete", "Thumbnails pending", "unverified", "rendering…"):
        assert badge in page, badge


def test_arrivals_filter_by_date_range(client, tech):
    today = timezone.localdate()
    _study(_patient("Nowdog"))
    _study(_patient("Weekdog"), received_at=timezone.now() - timedelta(days=7))
    _login(client, tech)
    week = {"day_from": (today - timedelta(days=8)).isoformat(), "day_to": today.isoformat()}
    page = _arrivals(client, **week).content.decode()
    assert "Nowdog" in page and "Weekdog" in page
    only_then = (today - timedelta(days=7)).isoformat()
    page = _arrivals(client, day_from=only_then, day_to=only_then).content.decode()
    assert "Weekdog" in page and "Nowdog" not in page


def test_arrivals_filter_by_modality_whole_values_only(client, tech):
    _study(_patient("Xray"), modalities="DX")
    _study(_patient("Scan"), modalities="CT\\SR")
    _login(client, tech)
    page = _arrivals(client, modality="CT").content.decode()
    assert "Scan" in page and "Xray" not in page
    page = _arrivals(client, modality="DX").content.decode()
    assert "Xray" in page and "Scan" not in page


def test_arrivals_filter_by_status(client, tech):
    _study(_patient("Busy"), status=StudyStatus.RECEIVING, thumbnail_state=ThumbnailState.PENDING)
    _study(_patient("Done"), status=StudyStatus.COMPLETE)
    _study(_patient("Stranger", verified=False), status=StudyStatus.COMPLETE)
    _login(client, tech)

    def names(status):
        page = _arrivals(client, status=status).content.decode()
        return {name for name in ("Busy", "Done", "Stranger") if f">{name}</a>" in page}

    assert names("receiving") == {"Busy"}
    assert names("complete") == {"Done", "Stranger"}
    assert names("thumbnails_pending") == {"Busy"}
    assert names("unverified") == {"Stranger"}


@pytest.mark.parametrize("text", ["rex", "smith", "P-4242", "ACC-9"])
def test_arrivals_search_by_patient_owner_patient_id_or_accession(client, tech, text):
    _study(_patient("Rex", "P-4242", owner_last="Smith"), accession="ACC-9")
    _study(_patient("Tiger", "P-1", owner_last="Jones"), accession="ACC-1")
    _login(client, tech)
    page = _arrivals(client, q=text).content.decode()
    assert ">Rex</a>" in page and ">Tiger</a>" not in page


def test_nothing_matching_the_filters_says_so(client, tech):
    _study(_patient("Rex"))
    _login(client, tech)
    page = _arrivals(client, q="nobody").content.decode()
    assert "No studies match these filters" in page


def test_rows_fragment_returns_new_studies_with_a_changed_digest(client, tech):
    _study(_patient("First"))
    _login(client, tech)
    page = _arrivals(client, modality="DX").content.decode()
    assert 'data-live-url="/arrivals/rows?modality=DX"' in page
    before = client.get(reverse("arrivals-rows"), {"modality": "DX"})
    assert before.status_code == 200 and "First" in before.content.decode()
    assert "<html" not in before.content.decode()  # only the rows
    _study(_patient("Second"))
    after = client.get(reverse("arrivals-rows"), {"modality": "DX"})
    assert "Second" in after.content.decode()
    assert after["X-Live-Digest"] != before["X-Live-Digest"]
    again = client.get(reverse("arrivals-rows"), {"modality": "DX"})
    assert again["X-Live-Digest"] == after["X-Live-Digest"]


# Study, patient and owner pages -------------------------------------------------------------


def test_study_page_lists_series_in_series_number_order(client, tech):
    study = _study(series_numbers=(3, 1, 10, 2))
    _login(client, tech)
    page = client.get(reverse("study-detail", args=[study.pk])).content.decode()
    positions = [page.index(f"Series {n} · View {n}</h3>") for n in (1, 2, 3, 10)]
    assert positions == sorted(positions)
    assert "Thorax 3 view" in page and "VD" in page


def test_study_page_polls_while_receiving_and_stops_when_complete(client, tech):
    study = _study(status=StudyStatus.RECEIVING, thumbnail_state=ThumbnailState.PENDING)
    _login(client, tech)
    live = client.get(reverse("study-live", args=[study.pk]))
    assert live.status_code == 200 and "X-Live-Final" not in live
    Study.objects.filter(pk=study.pk).update(status=StudyStatus.COMPLETE)
    Instance.objects.filter(series__study=study).update(thumbnail_state=ThumbnailState.DONE)
    live = client.get(reverse("study-live", args=[study.pk]))
    assert live["X-Live-Final"] == "1" and "Complete" in live.content.decode()


def test_study_page_shows_its_history(client, tech):
    study = _study()
    StudyEvent.objects.create(
        study=study, kind="instance_replaced", message="Instance 1.2.3 was sent again."
    )
    _login(client, tech)
    page = client.get(reverse("study-detail", args=[study.pk])).content.decode()
    assert (
        "Instance 1.2.3 was sent again." in page and "First image received from DR_ROOM_1" in page
    )


def test_a_missing_study_is_a_plain_not_found(client, tech):
    _login(client, tech)
    assert client.get(reverse("study-detail", args=[999999])).status_code == 404


def test_patients_list_searches_and_owner_page_lists_patients(client, front_desk):
    rex = _patient("Rex", "P-10", owner_last="Smith")
    Patient.objects.create(patient_id="P-11", name="Luna", owner=rex.owner, species=Species.FELINE)
    _patient("Tiger", "P-12", owner_last="Jones")
    _login(client, front_desk)
    page = client.get(reverse("patient-list"), {"q": "smith"}).content.decode()
    assert "Rex" in page and "Luna" in page and "Tiger" not in page
    owner = client.get(reverse("owner-detail", args=[rex.owner_id])).content.decode()
    assert "Rex" in owner and "Luna" in owner and "Tiger" not in owner


# Thumbnails ---------------------------------------------------------------------------------


def test_thumbnails_are_not_found_before_rendering_and_png_after(client, tech):
    study = _study(thumbnail_state=ThumbnailState.PENDING)
    series = study.series.get()
    instance = series.instances.get()
    _login(client, tech)
    series_url = reverse("series-thumbnail", args=[series.pk])
    instance_url = reverse("instance-thumbnail", args=[instance.pk])
    assert client.get(series_url).status_code == 404
    assert client.get(instance_url).status_code == 404

    key = storage.thumbnail_key(study_uid="s", series_uid="x", sop_uid="i")
    storage.derived_save(key, _png())
    Series.objects.filter(pk=series.pk).update(thumbnail_key=key)
    Instance.objects.filter(pk=instance.pk).update(
        thumbnail_key=key, thumbnail_state=ThumbnailState.DONE
    )
    for url in (series_url, instance_url):
        response = client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert response["Cache-Control"].startswith("private")
        assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    page = client.get(reverse("study-detail", args=[study.pk])).content.decode()
    assert f'src="{series_url}?v=1"' in page


@pytest.mark.django_db(transaction=True)
def test_an_ingested_study_shows_with_rendered_thumbnails(client, tech, settings):
    settings.CELERY_BROKER_URL = None  # render on this process's task thread, as embedded
    study_uid = _uid()
    for number in (2, 1):
        dataset = make_dataset(
            study_uid=study_uid, series_number=number, series_description=f"View {number}"
        )
        instance_receive_dataset(dataset=dataset, calling_ae="DR_ROOM_1")
    assert wait_for_local_tasks(timeout=30)
    study = Study.objects.get(study_instance_uid=study_uid)
    _login(client, tech)
    rows = client.get(reverse("arrivals-rows")).content.decode()
    assert "Rex" in rows and "Thorax 3 view" in rows and "rendering…" not in rows
    for series in study.series.all():
        response = client.get(reverse("series-thumbnail", args=[series.pk]))
        assert response.status_code == 200
        image = Image.open(io.BytesIO(b"".join(response.streaming_content)))
        assert image.width > 0


# Fixing a wrong-patient arrival -------------------------------------------------------------


def test_a_technician_moves_a_study_to_the_right_patient(client, tech):
    wrong = _patient("Rex", "P-WRONG", verified=False)
    right = _patient("Rex", "P-RIGHT", owner_last="Baker")
    study = _study(wrong)
    _login(client, tech)
    page = client.get(
        reverse("study-detail", args=[study.pk]), {"find": "P-RIGHT"}
    ).content.decode()
    assert "Move here" in page and "Baker" in page
    response = client.post(reverse("study-move", args=[study.pk]), {"patient": right.pk})
    assert response.status_code == 302
    study.refresh_from_db()
    assert study.patient == right
    event = study.events.get(kind="patient_reassigned")
    assert "P-WRONG" in event.message and "P-RIGHT" in event.message and event.user == tech
    page = client.get(reverse("study-detail", args=[study.pk])).content.decode()
    assert "Study moved to Rex (ID P-RIGHT)" in page


def test_front_desk_cannot_move_studies(client, front_desk):
    study = _study()
    other = _patient("Other")
    _login(client, front_desk)
    assert (
        client.post(reverse("study-move", args=[study.pk]), {"patient": other.pk}).status_code
        == 403
    )
    study.refresh_from_db()
    assert study.patient != other


def test_marking_a_patient_verified_is_recorded_on_its_studies(client, tech):
    patient = _patient("Stray", verified=False)
    study = _study(patient)
    _login(client, tech)
    page = client.get(reverse("study-detail", args=[study.pk])).content.decode()
    assert "Mark patient verified" in page
    client.post(reverse("patient-verify", args=[patient.pk]), {"next": study.get_absolute_url()})
    patient.refresh_from_db()
    assert patient.verified
    assert study.events.filter(kind="patient_verified", user=tech).exists()
    assert "Mark patient verified" not in client.get(study.get_absolute_url()).content.decode()


def test_the_rows_cost_a_few_queries_however_many_studies(
    client, tech, django_assert_max_num_queries
):
    for number in range(12):
        _study(_patient(f"Dog{number}"), series_numbers=(1, 2, 3))
    _login(client, tech)
    with django_assert_max_num_queries(8):
        page = client.get(reverse("arrivals-rows")).content.decode()
    assert page.count("data-key=") == 12


def test_an_unreadable_date_falls_back_to_today_and_keeps_the_other_filters(client, tech):
    _study(_patient("Xray"), modalities="DX")
    _study(_patient("Scan"), modalities="CT")
    _login(client, tech)
    page = _arrivals(client, day_from="23/11/yesterday", modality="CT").content.decode()
    assert ">Scan</a>" in page and ">Xray</a>" not in page
