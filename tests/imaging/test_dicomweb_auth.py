"""Who may use DICOMweb: staff with `imaging.view_study` by token or session; 401, 403, 404;
and a higher app's credentials plugged in through the scope hook."""

import pytest
import requests
from django.conf import settings
from django.test import Client
from requests.exceptions import HTTPError

from imaging.dicomweb.scope import Scope, scope_provider_register, scope_provider_unregister
from imaging.models import Instance, Series, Study
from tests.imaging.dicomweb_support import client_for, session_for, store_series

pytestmark = pytest.mark.django_db(transaction=True)


def _paths(stored) -> list[str]:
    series = f"/dicomweb/studies/{stored.study_uid}/series/{stored.series_uid}"
    return [
        "/dicomweb/studies",
        f"/dicomweb/studies/{stored.study_uid}/metadata",
        series,
        f"{series}/instances/{stored.sop_uids[0]}/frames/1",
        f"{series}/thumbnail",
    ]


def test_no_credentials_is_401_with_a_challenge(live_server, vet):
    stored = store_series(count=1)
    for path in _paths(stored):
        response = requests.get(live_server.url + path)
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"].startswith("Token")


def test_a_wrong_token_is_401(live_server):
    response = requests.get(
        live_server.url + "/dicomweb/studies", headers={"Authorization": "Token not-a-token"}
    )

    assert response.status_code == 401


def test_signed_in_without_permission_is_403(live_server, outsider, front_desk):
    stored = store_series(count=1)
    for person in (outsider, front_desk):
        client = client_for(live_server, person)
        with pytest.raises(HTTPError) as error:
            client.search_for_studies()
        assert error.value.response.status_code == 403
        for path in _paths(stored):
            assert session_for(person).get(live_server.url + path).status_code == 403, path


def test_a_browser_session_is_enough(live_server, vet):
    stored = store_series(count=1)
    browser = Client()
    browser.force_login(vet)
    session = requests.Session()
    session.cookies.set(
        settings.SESSION_COOKIE_NAME, browser.cookies[settings.SESSION_COOKIE_NAME].value
    )

    response = session.get(live_server.url + f"/dicomweb/studies/{stored.study_uid}/series")

    assert response.status_code == 200
    assert response.json()[0]["0020000E"]["Value"] == [stored.series_uid]


def test_technicians_read_too(live_server, tech):
    stored = store_series(count=1)

    assert len(client_for(live_server, tech).search_for_studies()) == 1
    assert stored.study_uid


def test_unknown_uids_are_404(live_server, vet):
    stored = store_series(count=1)
    session = session_for(vet)
    series = f"/dicomweb/studies/{stored.study_uid}/series/{stored.series_uid}"
    unknown = [
        "/dicomweb/studies/1.2.3.4/metadata",
        "/dicomweb/studies/1.2.3.4",
        "/dicomweb/studies/1.2.3.4/series",
        f"/dicomweb/studies/{stored.study_uid}/series/1.2.3.4/metadata",
        f"{series}/instances/1.2.3.4/frames/1",
        f"{series}/instances/1.2.3.4/rendered",
        f"{series}/instances/{stored.sop_uids[0]}/frames/2",  # one frame only
        # A real series under another study's UID is not found either.
        f"/dicomweb/studies/1.2.3.4/series/{stored.series_uid}/metadata",
    ]
    for path in unknown:
        response = session.get(live_server.url + path)
        assert response.status_code == 404, path
        assert response.json()["detail"]


def test_a_registered_scope_narrows_what_a_credential_sees(live_server, vet):
    shared = store_series(count=2, patient_id="P-7", accession="S-1")
    private = store_series(count=1, patient_id="P-8", accession="S-2")

    def share_link(request):
        if request.headers.get("Authorization") != "Share-Link secret":
            return None
        studies = Study.objects.filter(study_instance_uid=shared.study_uid)
        return Scope(
            studies=studies,
            series=Series.objects.filter(study__in=studies),
            instances=Instance.objects.filter(series__study__in=studies),
            requester="share link",
        )

    scope_provider_register(share_link)
    try:
        session = requests.Session()
        session.headers["Authorization"] = "Share-Link secret"
        found = session.get(live_server.url + "/dicomweb/studies").json()
        own = session.get(f"{live_server.url}/dicomweb/studies/{shared.study_uid}/metadata")
        other = session.get(f"{live_server.url}/dicomweb/studies/{private.study_uid}/metadata")
    finally:
        scope_provider_unregister(share_link)

    assert [item["0020000D"]["Value"][0] for item in found] == [shared.study_uid]
    assert own.status_code == 200 and len(own.json()) == 2
    assert other.status_code == 404
    # Without the hook the same credential is nobody's.
    assert session.get(live_server.url + "/dicomweb/studies").status_code == 401
    assert len(client_for(live_server, vet).search_for_studies()) == 2


def test_only_reads_are_allowed(live_server, vet):
    # POST on the studies resource is STOW-RS (tests/imaging/test_stow.py); elsewhere, reads.
    response = session_for(vet).post(live_server.url + "/dicomweb/series", data=b"x")

    assert response.status_code == 405
