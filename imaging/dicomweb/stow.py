"""STOW-RS (PS3.18 10.5): a multipart/related request of DICOM instances, read part by part.

Each part is streamed to a staging file and imported through the same path as an uploaded
file (and so the same ingest as a C-STORE) before the next part is read: a study of any size
never sits in memory. The answer lists every instance: stored ones in the Referenced SOP
Sequence with their RetrieveURL, failed ones in the Failed SOP Sequence with their Failure
Reason (PS3.18 Table 10.5.3-2).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pydicom import Dataset

from imaging import storage
from imaging.dicomweb.errors import BadRequest, DicomWebError
from imaging.models import ImportItem, ImportOutcome

CHUNK = 256 * 1024
_MAX_HEADERS = 16 * 1024


class UnsupportedMediaType(DicomWebError):
    """PS3.18 10.5.1.2: only `multipart/related; type="application/dicom"` is accepted here."""

    status = 415


def boundary_of(content_type: str) -> str:
    """The boundary of a `multipart/related; type="application/dicom"` request, or raise 415."""
    pieces = [p.strip() for p in content_type.split(";")]
    params = {}
    for piece in pieces[1:]:
        key, _, value = piece.partition("=")
        params[key.strip().lower()] = value.strip().strip('"')
    if pieces[0].lower() != "multipart/related" or params.get("type", "").lower() not in (
        "application/dicom",
        "",
    ):
        raise UnsupportedMediaType('Send instances as multipart/related; type="application/dicom".')
    if not params.get("boundary"):
        raise BadRequest("The multipart request has no boundary.")
    return params["boundary"]


@dataclass
class Part:
    content_type: str
    path: Path


class _Reader:
    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.buf = b""

    def fill(self) -> bool:
        chunk = self.stream.read(CHUNK)
        if not chunk:
            return False
        self.buf += chunk
        return True


def parts_read(stream: IO[bytes], boundary: str) -> Iterator[Part]:
    """Each body part staged to a file (RFC 2046 5.1.1). The consumer deletes the files."""
    reader = _Reader(stream)
    delimiter = b"--" + boundary.encode()
    # The preamble (before the first delimiter) is ignored.
    while (start := reader.buf.find(delimiter)) < 0:
        if not reader.fill():
            raise BadRequest("The multipart request has no parts.")
    reader.buf = reader.buf[start:]
    while True:
        while len(reader.buf) < len(delimiter) + 2 and reader.fill():
            pass
        rest = reader.buf[len(delimiter) :]
        if rest.startswith(b"--") or not rest:
            return  # the closing delimiter
        while (end := reader.buf.find(b"\r\n\r\n")) < 0:
            if len(reader.buf) > _MAX_HEADERS or not reader.fill():
                raise BadRequest("A part of the request has no end to its headers.")
        headers = reader.buf[len(delimiter) : end].decode("latin-1").split("\r\n")
        reader.buf = reader.buf[end + 4 :]
        content_type = ""
        for line in headers:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-type":
                content_type = value.strip()
        yield Part(content_type, _body_write(reader, b"\r\n" + delimiter))


def _body_write(reader: _Reader, marker: bytes) -> Path:
    with tempfile.NamedTemporaryFile(
        dir=storage.staging_dir(), suffix=".stow", delete=False
    ) as out:
        try:
            while True:
                found = reader.buf.find(marker)
                if found >= 0:
                    out.write(reader.buf[:found])
                    reader.buf = reader.buf[found + 2 :]  # keep the delimiter
                    break
                keep = len(marker) - 1
                if len(reader.buf) > keep:
                    out.write(reader.buf[:-keep])
                    reader.buf = reader.buf[-keep:]
                if not reader.fill():
                    raise BadRequest("The request ended in the middle of a part.")
        except BadRequest:
            Path(out.name).unlink(missing_ok=True)
            raise
    return Path(out.name)


def stow_answer(
    items: list[ImportItem], *, root: str, target_study: str = ""
) -> tuple[int, Dataset]:
    """The HTTP status and the response data set (PS3.18 10.5.3) for the instances imported."""
    answer = Dataset()
    stored, failed = [], []
    studies = set()
    for item in items:
        if item.outcome == ImportOutcome.IGNORED:
            continue
        entry = Dataset()
        entry.ReferencedSOPClassUID = item.sop_class_uid or None
        entry.ReferencedSOPInstanceUID = item.sop_instance_uid or None
        if item.outcome == ImportOutcome.REFUSED:
            entry.FailureReason = item.status
            failed.append(entry)
            continue
        study_uid = item.study.study_instance_uid if item.study_id else ""
        studies.add(study_uid)
        entry.RetrieveURL = f"{root}/studies/{study_uid}/series/{_series_uid(item)}/instances/{item.sop_instance_uid}"
        stored.append(entry)
    study_uid = target_study or (next(iter(studies)) if len(studies) == 1 else "")
    if study_uid and stored:
        answer.RetrieveURL = f"{root}/studies/{study_uid}"
    if stored:
        answer.ReferencedSOPSequence = stored
    if failed:
        answer.FailedSOPSequence = failed
    # PS3.18 10.5.3.1: 200 all stored, 202 some failed, 409 none stored.
    code = 409 if not stored else 202 if failed else 200
    return code, answer


def _series_uid(item: ImportItem) -> str:
    from imaging.models import Instance

    instance = Instance.objects.select_related("series").filter(
        sop_instance_uid=item.sop_instance_uid
    )
    found = instance.first()
    return found.series.series_instance_uid if found else ""
