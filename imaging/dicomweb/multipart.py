"""multipart/related bodies (RFC 2387) as PS3.18 8.7.3 writes them, streamed part by part."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator

# Parts are at most this many bytes per chunk handed to the server, so a cine loop or a
# whole study streams without being held in memory.
CHUNK = 256 * 1024


class Part:
    """One body part: its Content-Type and its bytes (or an iterator of byte chunks)."""

    __slots__ = ("content_type", "body", "location")

    def __init__(
        self, content_type: str, body: bytes | Iterable[bytes], *, location: str = ""
    ) -> None:
        self.content_type = content_type
        self.body = body
        self.location = location


def boundary_new() -> str:
    return "dicomweb-" + secrets.token_hex(12)


def content_type(part_type: str, boundary: str, *, transfer_syntax: str = "") -> str:
    """The response's Content-Type: `multipart/related; type="…"; boundary=…`."""
    value = f'multipart/related; type="{part_type}"; boundary={boundary}'
    if transfer_syntax:
        value += f"; transfer-syntax={transfer_syntax}"
    return value


def stream(parts: Iterable[Part], boundary: str) -> Iterator[bytes]:
    """The body: each part as `--boundary`, its headers and bytes; then the closing delimiter.

    There is no preamble: some clients (Cornerstone's image loader) take the first line that
    starts with `--` as the boundary.
    """
    delimiter = f"--{boundary}\r\n".encode()
    first = True
    for part in parts:
        headers = f"Content-Type: {part.content_type}\r\n"
        if part.location:
            headers += f"Content-Location: {part.location}\r\n"
        yield (b"" if first else b"\r\n") + delimiter + headers.encode() + b"\r\n"
        first = False
        if isinstance(part.body, bytes | bytearray | memoryview):
            yield bytes(part.body)
        else:
            yield from part.body
    yield (b"" if first else b"\r\n") + f"--{boundary}--\r\n".encode()


def body(parts: Iterable[Part], boundary: str) -> bytes:
    """The whole body at once, for small answers (a few frames)."""
    return b"".join(stream(parts, boundary))
