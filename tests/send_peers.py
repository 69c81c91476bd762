"""Destinations for send tests: Orthanc, DCMTK storescp and in-process pynetdicom SCPs,
plus a study in the portal to send."""

import json
import os
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pydicom import Dataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE, evt
from pynetdicom.presentation import AllStoragePresentationContexts
from pynetdicom.sop_class import Verification

from bench.peers import ORTHANC_AE_TITLE, Orthanc, start_storescp
from bench.processes import Processes, free_port
from imaging.ingest import instance_receive_dataset
from imaging.models import Destination, Study
from imaging.synthetic import encode, make_dataset


def portal_study(
    *, series: int = 1, per_series: int = 2, transfer_syntax: str = ExplicitVRLittleEndian
) -> Study:
    """A small study received by the portal, `series` × `per_series` instances."""
    study_uid = generate_uid()
    for s in range(1, series + 1):
        series_uid = generate_uid()
        for n in range(1, per_series + 1):
            ds = make_dataset(
                study_uid=study_uid,
                series_uid=series_uid,
                series_number=s,
                series_description=f"View {s}",
                instance_number=n,
                rows=32,
                columns=32,
            )
            instance_receive_dataset(dataset=encode(ds, transfer_syntax), calling_ae="DR_ROOM1")
    return Study.objects.get(study_instance_uid=study_uid)


def wait_for(
    condition: Callable[[], object], *, timeout: float = 60.0, what: str | Callable = ""
) -> object:
    """Poll until `condition()` is truthy; fail with `what` (or what it returns) after the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"timed out waiting for {detail or condition}")
        time.sleep(0.05)


def destination_for(name: str, port: int, ae_title: str, **fields) -> Destination:
    return Destination.objects.create(
        name=name, ae_title=ae_title, host="127.0.0.1", port=port, **fields
    )


class RunningOrthanc:
    def __init__(self, orthanc: Orthanc) -> None:
        self.dicom_port, self.http_port = orthanc.dicom_port, orthanc.http_port
        self.ae_title = ORTHANC_AE_TITLE
        self._orthanc = orthanc

    def _call(self, method: str, path: str, body: object = None) -> object:
        if body is None:
            data = None
        else:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}", data=data, method=method
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
        return json.loads(text) if text else None

    def sop_instance_uids(self) -> set[str]:
        found = self._call(
            "POST", "/tools/find", {"Level": "Instance", "Query": {}, "Expand": True}
        )
        return {item["MainDicomTags"]["SOPInstanceUID"] for item in found}

    def series_delete(self, series_uid: str) -> None:
        matches = [
            m for m in self._call("POST", "/tools/lookup", series_uid) if m["Type"] == "Series"
        ]
        assert matches, f"Orthanc has no series {series_uid}"
        for match in matches:
            self._call("DELETE", f"/series/{match['ID']}")


@contextmanager
def orthanc(
    work_dir: Path, *, portal_port: int | None = None, **config
) -> Iterator[RunningOrthanc]:
    """Orthanc on free loopback ports; it reports storage commitment to the portal's
    listener at `portal_port` (as AE VETPORTAL)."""
    if portal_port:
        config["DicomModalities"] = {"portal": ["VETPORTAL", "127.0.0.1", portal_port]}
    work_dir.mkdir(parents=True, exist_ok=True)
    with Processes(work_dir, dict(os.environ), work_dir) as procs:
        yield RunningOrthanc(Orthanc(procs, work_dir, extra_config=config))


@contextmanager
def storescp(work_dir: Path) -> Iterator[tuple[int, Path]]:
    """DCMTK storescp (no storage commitment, no C-FIND); yields (port, output folder)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    with Processes(work_dir, dict(os.environ), work_dir) as procs:
        _, port = start_storescp(procs, work_dir)
        yield port, work_dir / "storescp-out"


@contextmanager
def pynetdicom_scp(
    *,
    ae_title: str = "STORE_SCP",
    transfer_syntaxes: list[str] | None = None,
    on_store: Callable[[object], int] | None = None,
    sop_classes: list[str] | None = None,
    **ae_options,
) -> Iterator[tuple[int, list[Dataset]]]:
    """An in-process Storage SCP (of `sop_classes`, default all); yields (port, datasets received)."""
    received: list[Dataset] = []

    def handle_store(event) -> int:
        ds = event.dataset
        ds.file_meta = event.file_meta
        received.append(ds)
        return on_store(event) if on_store else 0x0000

    ae = AE(ae_title=ae_title)
    for name, value in ae_options.items():
        setattr(ae, name, value)
    ae.add_supported_context(Verification)
    for context in AllStoragePresentationContexts:
        if sop_classes is None or context.abstract_syntax in sop_classes:
            ae.add_supported_context(
                context.abstract_syntax, transfer_syntaxes or context.transfer_syntax
            )
    port = free_port()
    server = ae.start_server(
        ("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_STORE, handle_store)]
    )
    try:
        yield port, received
    finally:
        server.shutdown()
