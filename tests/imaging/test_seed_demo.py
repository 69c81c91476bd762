"""`manage.py seed_demo` fills a fresh portal through its own DICOM listener, once."""

import socket
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from clinic import roles
from clinic.models import Owner, Patient
from clinic.queue import wait_for_local_tasks
from imaging.models import Instance, Series, Study
from tests.dicom_server import running_listener

pytestmark = pytest.mark.django_db(transaction=True)


def _seed(host: str, port: int, ae_title: str) -> str:
    out = StringIO()
    call_command("seed_demo", host=host, port=port, ae_title=ae_title, stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (User, Owner, Patient, Study, Series, Instance)
    }


def test_seed_demo_fills_the_portal_once_and_leaves_existing_staff_alone(tech, monkeypatch):
    monkeypatch.setenv("PORTAL_DEMO_PASSWORD", "demo-password-1")
    with running_listener() as (host, port, ae_title):
        first = _seed(host, port, ae_title)
        after_first = _counts()
        second = _seed(host, port, ae_title)
    wait_for_local_tasks(timeout=60)

    # Staff in every role; the technician who already existed keeps their password.
    for username, role in [
        ("frontdesk", roles.FRONT_DESK),
        ("vet", roles.VETERINARIAN),
        ("manager", roles.ADMINISTRATOR),
    ]:
        user = User.objects.get(username=username)
        assert user.groups.filter(name=role).exists()
        assert user.check_password("demo-password-1")
    assert User.objects.get(username="tech").check_password("pw-tech")
    assert "tech" in first and "exists, left unchanged" in first

    # Patients of several species, each with an owner; every study landed under its patient.
    patients = {p.patient_id: p for p in Patient.objects.select_related("owner")}
    assert {p.species for p in patients.values()} >= {"canine", "feline", "lagomorph", "equine"}
    assert all(p.owner and p.verified for p in patients.values())
    assert patients["DEMO-1002"].owner.last_name == "Müller"
    assert not Patient.objects.filter(verified=False).exists()

    thorax = Study.objects.get(patient__patient_id="DEMO-1001")
    radiographs = thorax.series.exclude(modality="DOC")  # not the signed demo report's series
    assert sorted(radiographs.values_list("view_position", flat=True)) == ["LL", "RL", "VD"]
    assert thorax.device.ae_title == "DEMO_DR"
    cine = Instance.objects.get(series__study__patient__patient_id="DEMO-1002")
    assert cine.number_of_frames == 20
    ct = Study.objects.get(patient__patient_id="DEMO-1003")
    assert Instance.objects.filter(series__study=ct).count() == 20
    assert Study.objects.get(patient__patient_id="DEMO-1004").series.count() == 2

    # The second run found everything in place and sent nothing.
    assert _counts() == after_first
    assert second.count("already received, not sent again") == 4


def test_seed_demo_says_how_to_start_the_portal_when_nothing_listens(db):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(
        CommandError,
        match=rf"Nothing is listening at 127\.0\.0\.1:{port} — start the portal with `make run` first",
    ):
        call_command("seed_demo", host="127.0.0.1", port=port, stdout=StringIO())
