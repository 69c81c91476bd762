"""Studies stored through ingest and a dicomweb-client pointed at the live portal, for the
DICOMweb conformance tests."""

from __future__ import annotations

from dataclasses import dataclass, field

import requests
from dicomweb_client import DICOMwebClient
from django.contrib.auth.models import User
from pydicom import Dataset
from pydicom.uid import generate_uid
from rest_framework.authtoken.models import Token

from imaging import synthetic
from imaging.ingest import instance_receive_dataset


def client_for(live_server, user: User | None) -> DICOMwebClient:
    """A DICOMweb client sending the user's REST token (none for an anonymous caller)."""
    headers = {}
    if user is not None:
        headers["Authorization"] = f"Token {Token.objects.get_or_create(user=user)[0].key}"
    return DICOMwebClient(url=live_server.url + "/dicomweb", headers=headers)


def session_for(user: User | None) -> requests.Session:
    session = requests.Session()
    if user is not None:
        token = Token.objects.get_or_create(user=user)[0].key
        session.headers["Authorization"] = f"Token {token}"
    return session


@dataclass
class StoredStudy:
    study_uid: str
    series_uid: str
    datasets: list[Dataset] = field(default_factory=list)

    @property
    def sop_uids(self) -> list[str]:
        return [ds.SOPInstanceUID for ds in self.datasets]


def store_series(
    *, count: int = 1, transfer_syntax: str | None = None, header: dict | None = None, **fields
) -> StoredStudy:
    """`count` instances of one series, received through ingest (optionally compressed);
    `header` sets attributes `make_dataset` has no argument for (e.g. StudyDate)."""
    study_uid = fields.pop("study_uid", None) or generate_uid()
    series_uid = fields.pop("series_uid", None) or generate_uid()
    stored = StoredStudy(study_uid, series_uid)
    for number in range(1, count + 1):
        ds = synthetic.make_dataset(
            study_uid=study_uid, series_uid=series_uid, instance_number=number, **fields
        )
        for name, value in (header or {}).items():
            setattr(ds, name, value)
        if transfer_syntax:
            ds = synthetic.encode(ds, transfer_syntax)
        instance_receive_dataset(dataset=ds, calling_ae="TESTSCU")
        stored.datasets.append(ds)
    return stored


def multipart_parts(response: requests.Response) -> list[tuple[str, bytes]]:
    """(Content-Type, body) of each part of a multipart/related answer."""
    content_type = response.headers["Content-Type"]
    boundary = next(
        p.split("=", 1)[1].strip('"')
        for p in (x.strip() for x in content_type.split(";"))
        if p.lower().startswith("boundary=")
    )
    parts = []
    for chunk in response.content.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, body = chunk.partition(b"\r\n\r\n")
        headers = dict(
            line.split(": ", 1) for line in head.decode().strip().split("\r\n") if ": " in line
        )
        parts.append((headers.get("Content-Type", ""), body.removesuffix(b"\r\n")))
    return parts
