"""Destinations: adding them, and "test connection" explained in a clinic's words."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from bench.processes import free_port
from imaging.destinations import destination_create, destination_test_connection
from imaging.dicom import scu
from imaging.models import Destination
from tests.conftest import require_executable
from tests.send_peers import destination_for, orthanc, pynetdicom_scp

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _tasks_in_process(settings):
    """Sends run on this process's task thread, as in embedded mode, even when the suite
    runs with REDIS_URL (no worker consumes that queue here; test_send_worker has one)."""
    settings.CELERY_BROKER_URL = None


def test_a_working_destination_answers_the_test():
    with pynetdicom_scp(ae_title="PACS") as (port, _):
        check = destination_test_connection(destination=destination_for("PACS", port, "PACS"))
    assert check.ok
    assert "the connection works" in check.message


def test_nothing_listening_is_explained():
    port = free_port()
    check = destination_test_connection(destination=destination_for("Gone", port, "PACS"))
    assert not check.ok
    assert check.message == (
        f"Nothing is listening at 127.0.0.1:{port} — check the IP, port and firewall."
    )


def test_a_name_that_does_not_resolve_is_explained():
    destination = Destination.objects.create(
        name="Typo", ae_title="PACS", host="pacs.invalid", port=104
    )
    check = destination_test_connection(destination=destination)
    assert "'pacs.invalid' could not be resolved" in check.message


def test_an_unknown_calling_ae_title_is_explained():
    with pynetdicom_scp(ae_title="PACS", require_calling_aet=["MODALITY"]) as (port, _):
        check = destination_test_connection(destination=destination_for("PACS", port, "PACS"))
    assert not check.ok
    assert "the destination must register the portal's AE title VETPORTAL" in check.message


@pytest.mark.peer
def test_a_wrong_called_ae_title_is_explained_by_orthanc(tmp_path):
    require_executable("Orthanc")
    with orthanc(tmp_path / "orthanc", DicomCheckCalledAet=True) as peer:
        wrong = destination_for("PACS", peer.dicom_port, "NOT_ORTHANC")
        right = destination_for("PACS 2", peer.dicom_port, peer.ae_title)
        wrong_check = destination_test_connection(destination=wrong)
        right_check = destination_test_connection(destination=right)
    assert not wrong_check.ok
    assert "check the AE title configured for this destination" in wrong_check.message
    assert "'NOT_ORTHANC'" in wrong_check.message
    assert right_check.ok


def test_an_ae_title_too_long_is_refused():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        destination_create(name="X", ae_title="A" * 17, host="h", port=104)
    assert "ae_title" in caught.value.message_dict


def test_a_port_out_of_range_and_a_backslash_in_the_ae_title_are_refused():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        destination_create(name="X", ae_title="PACS\\1", host="h", port=70000)
    assert caught.value.message_dict == {
        "port": ["The port must be between 1 and 65535."],
        "ae_title": ["An AE title cannot contain backslashes or control characters."],
    }


def test_a_tls_destination_is_reached_with_its_address_and_certificates():
    destination = Destination(
        name="Referral PACS", ae_title="REFPACS", host="pacs.example.org", port=2762, tls=True,
        tls_ca_file="/etc/portal/ca.pem", tls_cert_file="/etc/portal/portal.crt",
        tls_key_file="/etc/portal/portal.key",
    )  # fmt: skip
    assert destination.peer() == scu.Peer(
        ae_title="REFPACS", host="pacs.example.org", port=2762, tls=True,
        tls_ca_file="/etc/portal/ca.pem", tls_cert_file="/etc/portal/portal.crt",
        tls_key_file="/etc/portal/portal.key",
    )  # fmt: skip
    assert destination.where == "pacs.example.org:2762"
    assert str(destination) == "Referral PACS (REFPACS@pacs.example.org:2762)"


def test_the_command_adds_lists_and_echoes(capsys):
    with pynetdicom_scp(ae_title="ARCHIVE") as (port, _):
        call_command(
            "dicom_destination", "add", "Archive", "--ae", "ARCHIVE", "--host", "127.0.0.1",
            "--port", str(port), "--commitment", "--kind", "archive",
        )  # fmt: skip
        call_command("dicom_destination", "list")
        call_command("dicom_destination", "echo", "Archive")
    out = capsys.readouterr().out
    assert f"Archive\tARCHIVE@127.0.0.1:{port}\tarchive\tcommitment" in out
    assert "the connection works" in out
    assert Destination.objects.get(name="Archive").storage_commitment


def test_the_command_echo_fails_with_the_reason():
    port = free_port()
    destination_for("Gone", port, "PACS")
    with pytest.raises(CommandError, match="Nothing is listening"):
        call_command("dicom_destination", "echo", "Gone")
