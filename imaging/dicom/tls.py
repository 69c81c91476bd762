"""DICOM over TLS on the listener's second port.

PS3.15 B.1 (Basic TLS Secure Transport Connection Profile): DICOM runs inside TLS on a port of
its own, both sides may prove who they are with X.509 certificates. The protocol versions and
ciphers are those of the BCP 195 profiles (PS3.15 B.9, B.11): TLS 1.2 at least (1.3 allowed),
forward-secret ECDHE key exchange with AES-GCM or ChaCha20-Poly1305 only.

The handshake runs on the connection's own thread (pynetdicom does it on the accepting thread,
where one silent or slow caller would hold up every other one), with a deadline, and a refused
handshake is logged with its reason in words.
"""

import logging
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.dispatch import Signal
from pynetdicom.transport import ThreadedAssociationServer

logger = logging.getLogger(__name__)

# TLS 1.2 suites of BCP 195 (RFC 9325 4.2); TLS 1.3 suites are all AEAD and stay as OpenSSL has them.
CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
# A caller that connects but does not finish the handshake in this time is dropped.
HANDSHAKE_TIMEOUT_SECONDS = 15

# Sent for every refused handshake, with `address` ("host:port") and `reason` (words), so a
# record of connections can keep them too.
tls_handshake_refused = Signal()


@dataclass(frozen=True)
class ListenerTls:
    """Where the listener's TLS identity comes from (settings DICOM_TLS_*)."""

    cert_file: str
    key_file: str = ""
    ca_file: str = ""

    @property
    def requires_client_certificates(self) -> bool:
        return bool(self.ca_file)


def listener_tls_context(*, tls: ListenerTls) -> ssl.SSLContext:
    """The server-side TLS context; ImproperlyConfigured, in words, when the files cannot serve."""
    for name, path in (
        ("DICOM_TLS_CERT_FILE", tls.cert_file),
        ("DICOM_TLS_KEY_FILE", tls.key_file),
        ("DICOM_TLS_CA_FILE", tls.ca_file),
    ):
        if path:
            _readable(name, path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(CIPHERS)
    # No session tickets: every association proves its certificates afresh.
    context.options |= ssl.OP_NO_TICKET | ssl.OP_CIPHER_SERVER_PREFERENCE
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file or None)
    except ssl.SSLError as exc:
        raise ImproperlyConfigured(_cert_chain_problem(tls, exc)) from exc
    if tls.ca_file:
        try:
            context.load_verify_locations(cafile=tls.ca_file)
        except ssl.SSLError as exc:
            raise ImproperlyConfigured(
                f"DICOM_TLS_CA_FILE={tls.ca_file!r} holds no usable CA certificate (PEM): "
                f"{exc.reason or exc}"
            ) from exc
        context.verify_mode = ssl.CERT_REQUIRED
    else:
        context.verify_mode = ssl.CERT_NONE
    return context


def _readable(name: str, path: str) -> None:
    file = Path(path)
    if not file.is_file():
        raise ImproperlyConfigured(f"{name}={path!r}: no such file")
    try:
        with file.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}={path!r} cannot be read: {exc.strerror}") from exc


def _cert_chain_problem(tls: ListenerTls, exc: ssl.SSLError) -> str:
    reason = exc.reason or str(exc)
    if reason == "KEY_VALUES_MISMATCH":
        return (
            f"DICOM_TLS_KEY_FILE={tls.key_file!r} is not the private key of the certificate in "
            f"DICOM_TLS_CERT_FILE={tls.cert_file!r}"
        )
    if not tls.key_file:
        return (
            f"DICOM_TLS_CERT_FILE={tls.cert_file!r} holds no private key and DICOM_TLS_KEY_FILE "
            f"is not set ({reason})"
        )
    return (
        f"DICOM_TLS_CERT_FILE={tls.cert_file!r} / DICOM_TLS_KEY_FILE={tls.key_file!r} are not a "
        f"PEM certificate and its unencrypted private key ({reason})"
    )


# OpenSSL's reasons for a failed server-side handshake, as the clinic would say them.
_REASONS = {
    "WRONG_VERSION_NUMBER": "the caller speaks plain DICOM (no TLS) on the TLS port",
    "HTTP_REQUEST": "the caller sent a web request to the DICOM TLS port",
    "UNSUPPORTED_PROTOCOL": "the caller offers only TLS versions older than 1.2",
    "NO_PROTOCOLS_AVAILABLE": "the caller offers only TLS versions older than 1.2",
    "NO_SHARED_CIPHER": (
        "no cipher in common (the portal accepts ECDHE with AES-GCM or ChaCha20 only)"
    ),
    "PEER_DID_NOT_RETURN_A_CERTIFICATE": (
        "the caller presented no client certificate, and this port requires one"
    ),
    "CERTIFICATE_VERIFY_FAILED": (
        "untrusted client: its certificate is not signed by the CA in DICOM_TLS_CA_FILE "
        "(or has expired)"
    ),
    "TLSV1_ALERT_UNKNOWN_CA": (
        "the caller does not trust the portal's certificate (unknown CA): give it the CA "
        "that signed DICOM_TLS_CERT_FILE"
    ),
    "SSLV3_ALERT_BAD_CERTIFICATE": (
        "the caller refused the portal's certificate (bad certificate: wrong CA or host name)"
    ),
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": (
        "the caller refused the portal's certificate (wrong CA or host name)"
    ),
    "TLSV1_ALERT_DECRYPT_ERROR": "the caller's certificate does not match its key",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "the caller says the portal's certificate has expired",
    "UNEXPECTED_EOF_WHILE_READING": (
        "the caller hung up during the TLS handshake (often: it does not trust the portal's "
        "certificate)"
    ),
}


def handshake_refusal(exc: BaseException) -> str:
    """Why a handshake failed, in words."""
    if isinstance(exc, ssl.SSLError) and exc.reason in _REASONS:
        return _REASONS[exc.reason]
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"the caller did not complete the TLS handshake within {HANDSHAKE_TIMEOUT_SECONDS} s"
    if isinstance(exc, ConnectionError | ssl.SSLEOFError):
        return _REASONS["UNEXPECTED_EOF_WHILE_READING"]
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
    return f"TLS handshake failed ({reason})"


class TlsAssociationServer(ThreadedAssociationServer):
    """pynetdicom's threaded server, with the TLS handshake moved onto each connection's thread.

    `ssl_context` stays None on the base class so its `get_request` hands over the plain socket.
    """

    def __init__(self, *args, tls_context: ssl.SSLContext, **kwargs) -> None:
        self.tls_context = tls_context
        super().__init__(*args, **kwargs)

    def process_request_thread(self, request: socket.socket, client_address) -> None:
        address = f"{client_address[0]}:{client_address[1]}"
        try:
            request.settimeout(HANDSHAKE_TIMEOUT_SECONDS)
            secured = self.tls_context.wrap_socket(request, server_side=True)
            secured.settimeout(None)  # pynetdicom polls the socket itself
        except (OSError, ValueError) as exc:
            reason = handshake_refusal(exc)
            logger.warning("refused a TLS connection from %s: %s", address, reason)
            tls_handshake_refused.send_robust(sender=type(self), address=address, reason=reason)
            try:
                request.close()
            except OSError:
                pass
            return
        peer = _certificate_subject(secured)
        logger.info("TLS connection from %s (%s, %s)", address, secured.version(), peer)
        super().process_request_thread(secured, client_address)


def _certificate_subject(sock: ssl.SSLSocket) -> str:
    certificate = sock.getpeercert()
    if not certificate:
        return "no client certificate"
    names = [
        value for rdn in certificate.get("subject", ()) for key, value in rdn if key == "commonName"
    ]
    return f"client certificate {', '.join(names) or '(no common name)'}"
