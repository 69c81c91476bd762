"""Sending over TLS to DCMTK storescp: the destination's certificate is verified against the
configured CA and host, the portal presents its client certificate, and a wrong certificate
is refused with words that say what to fix."""

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pydicom import dcmread

from bench.peers import dcmtk_env
from bench.processes import Processes, free_port
from imaging import send
from imaging.destinations import destination_test_connection
from imaging.models import SendState
from tests.conftest import require_executable
from tests.send_peers import destination_for, portal_study, wait_for

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _tasks_in_process(settings):
    """Sends run on this process's task thread, as in embedded mode."""
    settings.CELERY_BROKER_URL = None
    settings.SEND_MAX_ATTEMPTS = 1


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(folder: Path, name: str) -> None:
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", f"{name}.key", "-out", f"{name}.crt", "-subj", f"/CN={name}",
        cwd=folder,
    )  # fmt: skip


def _signed(folder: Path, name: str, *, ca: str, san: str) -> None:
    (folder / f"{name}.ext").write_text(f"subjectAltName={san}\n")
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
        "-out", f"{name}.csr", "-subj", f"/CN={name}",
        cwd=folder,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
        "-CAcreateserial", "-days", "2", "-out", f"{name}.crt", "-extfile", f"{name}.ext",
        cwd=folder,
    )  # fmt: skip


@pytest.fixture
def certificates(tmp_path) -> Path:
    """A throw-away clinic CA with a server certificate for 127.0.0.1 and a client
    certificate for the portal, and an unrelated CA."""
    require_executable("openssl")
    folder = tmp_path / "tls"
    folder.mkdir()
    _ca(folder, "clinic-ca")
    _ca(folder, "other-ca")
    _signed(folder, "server", ca="clinic-ca", san="IP:127.0.0.1")
    _signed(folder, "portal", ca="clinic-ca", san="DNS:vetportal.test")
    return folder


@contextmanager
def tls_storescp(work_dir: Path, certs: Path) -> Iterator[tuple[int, Path]]:
    """storescp over TLS, requiring a client certificate signed by the clinic CA."""
    require_executable("storescp")
    work_dir.mkdir(parents=True, exist_ok=True)
    out = work_dir / "out"
    out.mkdir()
    port = free_port()
    argv = [
        "storescp", "+tls", str(certs / "server.key"), str(certs / "server.crt"),
        "-pw", "+cf", str(certs / "clinic-ca.crt"), "-od", str(out), str(port),
    ]  # fmt: skip
    with Processes(work_dir, dict(os.environ), work_dir) as procs:
        process = procs.start("storescp-tls", argv, env=dcmtk_env(procs.env))
        process.wait_for_port(port)
        yield port, out


def _tls_destination(port: int, certs: Path, *, host: str = "127.0.0.1", ca: str = "clinic-ca"):
    destination = destination_for(
        "Secure PACS",
        port,
        "STORESCP",
        tls=True,
        tls_ca_file=str(certs / f"{ca}.crt"),
        tls_cert_file=str(certs / "portal.crt"),
        tls_key_file=str(certs / "portal.key"),
    )
    destination.host = host
    destination.save(update_fields=["host"])
    return destination


def _finished(job):
    job.refresh_from_db()
    return job if job.finished else None


def test_a_study_is_sent_over_tls_to_a_verified_destination(tmp_path, certificates):
    study = portal_study(series=1, per_series=3)
    with tls_storescp(tmp_path / "scp", certificates) as (port, out):
        destination = _tls_destination(port, certificates)
        check = destination_test_connection(destination=destination)
        job = send.send_job_create(study=study, destination=destination)
        wait_for(lambda: _finished(job), what=lambda: f"the send (state {job.state})")
        received = {str(dcmread(path).SOPInstanceUID) for path in out.iterdir()}
    assert check.ok, check.message
    assert job.state == SendState.SENT, job.error
    assert received == set(job.items.values_list("instance__sop_instance_uid", flat=True))


def test_a_certificate_from_another_ca_is_refused_in_plain_words(tmp_path, certificates):
    with tls_storescp(tmp_path / "scp", certificates) as (port, out):
        destination = _tls_destination(port, certificates, ca="other-ca")
        check = destination_test_connection(destination=destination)
        job = send.send_job_create(study=portal_study(per_series=1), destination=destination)
        wait_for(lambda: _finished(job))
        assert not list(out.iterdir())
    assert not check.ok
    assert "certificate at 127.0.0.1" in check.message
    assert "is not signed by the configured CA" in check.message
    assert str(certificates / "other-ca.crt") in check.message
    assert job.state == SendState.FAILED
    assert "is not signed by the configured CA" in job.error
    assert job.attempts_made.get().permanent


def test_a_certificate_for_another_host_name_is_refused(tmp_path, certificates):
    with tls_storescp(tmp_path / "scp", certificates) as (port, _):
        check = destination_test_connection(
            destination=_tls_destination(port, certificates, host="localhost")
        )
    assert not check.ok
    assert "The destination's certificate is not issued for 'localhost'" in check.message


def test_missing_certificate_files_are_named(tmp_path, certificates):
    destination = _tls_destination(free_port(), certificates)
    destination.tls_cert_file = str(tmp_path / "nowhere.crt")
    destination.save()
    check = destination_test_connection(destination=destination)
    assert not check.ok
    assert "TLS certificate files set for this destination cannot be used" in check.message
