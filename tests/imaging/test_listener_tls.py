"""DICOM over TLS on the listener's second port, with DCMTK `echoscu`/`storescu` as the callers:
the right CA succeeds, wrong or missing certificates are refused (and logged in words), plain
DICOM on the TLS port fails while the listener goes on serving, and bad files stop start-up."""

import datetime
import ipaddress
import logging
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.core.management import CommandError, call_command

from bench.processes import free_port
from imaging import send
from imaging.destinations import destination_test_connection
from imaging.dicom import listener, tls
from imaging.models import Instance, SendState
from imaging.synthetic import make_dataset, write
from tests.conftest import require_executable
from tests.send_peers import destination_for, portal_study, wait_for

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]


# --- A throw-away clinic CA, the portal's server certificate, client certificates ------------


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, key, *, issuer, issuer_key, ca: bool, extensions=()) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _save(folder: Path, name: str, key, certificate: x509.Certificate) -> None:
    (folder / f"{name}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    (folder / f"{name}.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def _ca(folder: Path, name: str):
    key = _key()
    certificate = _certificate(_name(name), key, issuer=_name(name), issuer_key=key, ca=True)
    _save(folder, name, key, certificate)
    return key, certificate


def _leaf(folder: Path, name: str, *, ca, server: bool) -> None:
    ca_key, ca_certificate = ca
    key = _key()
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    extensions = [x509.ExtendedKeyUsage([usage])]
    if server:
        extensions.append(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            )
        )
    certificate = _certificate(
        _name(name),
        key,
        issuer=ca_certificate.subject,
        issuer_key=ca_key,
        ca=False,
        extensions=extensions,
    )
    _save(folder, name, key, certificate)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    """clinic-ca signs the portal's server certificate and the modality's client certificate;
    other-ca signs an impostor's client certificate."""
    folder = tmp_path_factory.mktemp("tls")
    clinic_ca = _ca(folder, "clinic-ca")
    other_ca = _ca(folder, "other-ca")
    _leaf(folder, "portal", ca=clinic_ca, server=True)
    _leaf(folder, "modality", ca=clinic_ca, server=False)
    _leaf(folder, "impostor", ca=other_ca, server=False)
    return folder


# --- The listener with its TLS port, and what it logs about refused handshakes ---------------


class _Refusals(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextmanager
def tls_listener(certs: Path, *, require_client_certificates: bool) -> Iterator[tuple[int, int]]:
    """The portal's listener on a plain and a TLS loopback port; yields (plain, tls) ports."""
    ae = listener.build_ae(ae_title="VETPORTAL", max_pdu=settings.DICOM_MAX_PDU)
    handlers = dict(require_known_devices=False, min_free_bytes=settings.DICOM_MIN_FREE_BYTES)
    plain = listener.start(ae, host="127.0.0.1", port=0, **handlers)
    secure = listener.start_tls(
        ae,
        host="127.0.0.1",
        port=0,
        tls_settings=tls.ListenerTls(
            cert_file=str(certs / "portal.crt"),
            key_file=str(certs / "portal.key"),
            ca_file=str(certs / "clinic-ca.crt") if require_client_certificates else "",
        ),
        **handlers,
    )
    try:
        yield plain.server_address[1], secure.server_address[1]
    finally:
        listener.stop(ae, plain, secure, grace=5.0)


@pytest.fixture
def refusals() -> Iterator[_Refusals]:
    handler = _Refusals()
    logger = logging.getLogger("imaging.dicom.tls")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def _dcmtk(tool: str, *args: str) -> subprocess.CompletedProcess:
    require_executable(tool)
    return subprocess.run(
        [tool, "-to", "10", "-ta", "10", "-td", "10", *args],
        env={**os.environ, "TCP_NODELAY": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _tls_options(certs: Path, *, client: str | None = "modality", trust: str = "clinic-ca"):
    """DCMTK's TLS options: our client certificate (or none: +tla), and the CA it trusts."""
    own = ["+tla"]
    if client:  # -pw: the key has no passphrase (only valid with +tls)
        own = ["+tls", str(certs / f"{client}.key"), str(certs / f"{client}.crt"), "-pw"]
    return [*own, "+cf", str(certs / f"{trust}.crt")]


def _echo(port: int, *tls_options: str) -> subprocess.CompletedProcess:
    return _dcmtk(
        "echoscu", *tls_options, "-aec", "VETPORTAL", "-aet", "DR_ROOM1", "127.0.0.1", str(port)
    )


def _refused_with(refusals: _Refusals, words: str) -> bool:
    return any(words in line for line in refusals.lines)


# --- Tests -----------------------------------------------------------------------------------


def test_echo_over_tls_succeeds_with_the_clinic_ca(certs):
    with tls_listener(certs, require_client_certificates=True) as (_, tls_port):
        result = _echo(tls_port, *_tls_options(certs))
    assert result.returncode == 0, result.stderr


def test_an_instance_stored_over_tls_is_indexed(certs, dicom_dir):
    dataset = make_dataset(modality="DX", rows=32, columns=32)
    path = write(dataset, dicom_dir / "1.dcm")
    with tls_listener(certs, require_client_certificates=True) as (_, tls_port):
        result = _dcmtk(
            "storescu", *_tls_options(certs), "-aec", "VETPORTAL", "-aet", "DR_ROOM1",
            "127.0.0.1", str(tls_port), str(path),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    instance = Instance.objects.get(sop_instance_uid=dataset.SOPInstanceUID)
    assert instance.series.study.study_instance_uid == dataset.StudyInstanceUID


def test_a_client_that_does_not_trust_the_portal_certificate_is_refused(certs, refusals):
    with tls_listener(certs, require_client_certificates=False) as (_, tls_port):
        result = _echo(tls_port, *_tls_options(certs, trust="other-ca"))
        assert result.returncode != 0
        assert wait_for(lambda: refusals.lines, timeout=10, what="the refusal in the log")
        # The listener goes on serving callers that do trust it.
        assert _echo(tls_port, *_tls_options(certs)).returncode == 0
    assert _refused_with(refusals, "does not trust the portal's certificate") or _refused_with(
        refusals, "refused the portal's certificate"
    ), refusals.lines


def test_a_client_without_certificate_is_refused_when_one_is_required(certs, refusals):
    with tls_listener(certs, require_client_certificates=True) as (_, tls_port):
        result = _echo(tls_port, *_tls_options(certs, client=None))
        assert result.returncode != 0
        wait_for(lambda: refusals.lines, timeout=10, what="the refusal in the log")
    assert _refused_with(refusals, "presented no client certificate"), refusals.lines


def test_a_client_certificate_from_another_ca_is_refused(certs, refusals):
    with tls_listener(certs, require_client_certificates=True) as (_, tls_port):
        result = _echo(tls_port, *_tls_options(certs, client="impostor"))
        assert result.returncode != 0
        wait_for(lambda: refusals.lines, timeout=10, what="the refusal in the log")
    assert _refused_with(refusals, "untrusted client"), refusals.lines


def test_without_a_ca_file_no_client_certificate_is_asked(certs):
    with tls_listener(certs, require_client_certificates=False) as (_, tls_port):
        result = _echo(tls_port, *_tls_options(certs, client=None))
    assert result.returncode == 0, result.stderr


def test_plain_dicom_on_the_tls_port_fails_and_the_listener_goes_on(certs, refusals):
    with tls_listener(certs, require_client_certificates=True) as (plain_port, tls_port):
        assert _echo(tls_port).returncode != 0
        wait_for(lambda: refusals.lines, timeout=10, what="the refusal in the log")
        assert _echo(tls_port, *_tls_options(certs)).returncode == 0
        # TLS on the plain port fails the other way round; plain DICOM there still works.
        assert _echo(plain_port, *_tls_options(certs)).returncode != 0
        assert _echo(plain_port).returncode == 0
    assert _refused_with(refusals, "plain DICOM (no TLS) on the TLS port"), refusals.lines


def test_a_silent_caller_holds_up_no_one_and_is_dropped(certs, refusals, monkeypatch):
    monkeypatch.setattr(tls, "HANDSHAKE_TIMEOUT_SECONDS", 2)
    with tls_listener(certs, require_client_certificates=True) as (_, tls_port):
        with socket.create_connection(("127.0.0.1", tls_port)) as silent:
            # While it says nothing, others are served (the handshake is not on the accepting thread).
            assert _echo(tls_port, *_tls_options(certs)).returncode == 0
            wait_for(lambda: refusals.lines, timeout=20, what="the silent caller dropped")
            silent.settimeout(5)
            assert silent.recv(1) == b""  # closed by the listener
    assert _refused_with(refusals, "did not complete the TLS handshake within 2 s"), refusals.lines


def test_the_portal_sends_to_its_own_tls_port_verifying_it(certs, settings):
    settings.CELERY_BROKER_URL = None  # the send runs on this process's task thread
    settings.SEND_MAX_ATTEMPTS = 1
    study = portal_study(per_series=2)
    with tls_listener(certs, require_client_certificates=True) as (_, tls_port):
        destination = destination_for(
            "Portal over TLS",
            tls_port,
            "VETPORTAL",
            tls=True,
            tls_ca_file=str(certs / "clinic-ca.crt"),
            tls_cert_file=str(certs / "modality.crt"),
            tls_key_file=str(certs / "modality.key"),
        )
        check = destination_test_connection(destination=destination)
        job = send.send_job_create(study=study, destination=destination)

        def finished():
            job.refresh_from_db()
            return job.finished

        wait_for(finished, what=lambda: f"the send (state {job.state}: {job.error})")
    assert check.ok, check.message
    assert job.state == SendState.SENT, job.error


@pytest.mark.parametrize(
    "problem, words",
    [
        ("missing", "no such file"),
        ("mismatched", "is not the private key of the certificate"),
        ("not a certificate", "are not a PEM certificate"),
    ],
)
def test_the_listener_refuses_to_start_with_unusable_files(
    certs, settings, tmp_path, problem, words
):
    settings.DICOM_TLS_CERT_FILE = str(certs / "portal.crt")
    settings.DICOM_TLS_KEY_FILE = str(certs / "portal.key")
    if problem == "missing":
        settings.DICOM_TLS_CERT_FILE = str(tmp_path / "nowhere.crt")
    elif problem == "mismatched":
        settings.DICOM_TLS_KEY_FILE = str(certs / "modality.key")
    else:
        junk = tmp_path / "junk.crt"
        junk.write_text("not a certificate\n")
        settings.DICOM_TLS_CERT_FILE = str(junk)
    with pytest.raises(CommandError, match=words) as failure:
        call_command("dicomlistener", port=0, bind="127.0.0.1", tls_port=free_port())
    assert "cannot accept DICOM over TLS" in str(failure.value)


def test_the_handshake_reasons_read_as_words():
    assert "plain DICOM" in tls.handshake_refusal(_ssl_error("WRONG_VERSION_NUMBER"))
    assert "older than 1.2" in tls.handshake_refusal(_ssl_error("UNSUPPORTED_PROTOCOL"))
    assert "within" in tls.handshake_refusal(TimeoutError())
    assert "hung up" in tls.handshake_refusal(ConnectionResetError())


def _ssl_error(reason: str):
    import ssl

    error = ssl.SSLError(1, reason)
    error.reason = reason
    return error
