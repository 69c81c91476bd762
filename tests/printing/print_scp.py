"""A Basic Grayscale Print Management SCP (PS3.4 Annex H) for tests: it accepts the meta SOP
class, keeps what it receives (film sessions, film boxes, image boxes, actions, deletions) and
answers the Printer N-GET with a status the test chooses."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from pydicom import Dataset, uid
from pynetdicom import AE, evt
from pynetdicom.sop_class import (
    BasicFilmBox,
    BasicFilmSession,
    BasicGrayscaleImageBox,
    BasicGrayscalePrintManagementMeta,
    Printer,
    Verification,
)


@dataclass
class ImageBox:
    uid: str
    film_box_uid: str
    position: int = 0
    pixels: np.ndarray | None = None
    photometric: str = ""
    bits_stored: int = 0
    pixel_aspect: list = field(default_factory=list)


@dataclass
class PrintRecord:
    """Everything the printer was asked, in order."""

    sessions: dict[str, Dataset] = field(default_factory=dict)
    film_boxes: dict[str, Dataset] = field(default_factory=dict)
    image_boxes: dict[str, ImageBox] = field(default_factory=dict)
    actions: list[tuple[str, int, str]] = field(default_factory=list)  # (class, type, instance)
    deleted: list[tuple[str, str]] = field(default_factory=list)
    printer_gets: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def printed_boxes(self) -> list[ImageBox]:
        """Image boxes of printed film boxes, film by film, in position order."""
        printed = [uid for cls, _, uid in self.actions if cls == BasicFilmBox]
        return [
            box
            for film in printed
            for box in sorted(self.image_boxes.values(), key=lambda b: b.position)
            if box.film_box_uid == film and box.pixels is not None
        ]


@dataclass
class PrinterBehaviour:
    film_sizes: tuple[str, ...] = ("8INX10IN", "10INX12IN", "14INX17IN")
    status: str = "NORMAL"
    status_info: str = "NORMAL"


def _boxes(display_format: str) -> int:
    columns, rows = str(display_format).split("\\", 1)[1].split(",")
    return int(columns) * int(rows)


@contextmanager
def print_scp(
    *, ae_title: str = "PRINTSCP", behaviour: PrinterBehaviour | None = None
) -> Iterator[tuple[int, PrintRecord, PrinterBehaviour]]:
    """Serve on a free loopback port while the block runs; yields (port, record, behaviour)."""
    record = PrintRecord()
    behaviour = behaviour or PrinterBehaviour()

    def on_create(event):
        request, attributes = event.request, event.attribute_list
        instance_uid = request.AffectedSOPInstanceUID or uid.generate_uid()
        answer = Dataset()
        answer.AffectedSOPInstanceUID = instance_uid
        with record.lock:
            if request.AffectedSOPClassUID == BasicFilmSession:
                record.sessions[instance_uid] = attributes
                return 0x0000, answer
            if request.AffectedSOPClassUID == BasicFilmBox:
                if str(attributes.get("FilmSizeID", "")) not in behaviour.film_sizes:
                    return 0x0106, None  # PS3.7 C.4.2: invalid attribute value
                record.film_boxes[instance_uid] = attributes
                answer.update(attributes)
                answer.ReferencedImageBoxSequence = []
                for position in range(1, _boxes(attributes.ImageDisplayFormat) + 1):
                    box_uid = uid.generate_uid()
                    record.image_boxes[box_uid] = ImageBox(box_uid, instance_uid, position)
                    item = Dataset()
                    item.ReferencedSOPClassUID = BasicGrayscaleImageBox
                    item.ReferencedSOPInstanceUID = box_uid
                    answer.ReferencedImageBoxSequence.append(item)
                return 0x0000, answer
        return 0x0122, None  # SOP class not supported

    def on_set(event):
        request, changes = event.request, event.modification_list
        with record.lock:
            box = record.image_boxes.get(request.RequestedSOPInstanceUID)
            if box is None:
                return 0x0112, None  # no such object instance
            item = changes.BasicGrayscaleImageSequence[0]
            shape = (int(item.Rows), int(item.Columns))
            box.pixels = np.frombuffer(item.PixelData, dtype=np.uint8).reshape(shape)
            box.photometric = str(item.PhotometricInterpretation)
            box.bits_stored = int(item.BitsStored)
            box.pixel_aspect = [int(v) for v in item.PixelAspectRatio]
            box.position = int(changes.get("ImageBoxPosition", box.position))
        return 0x0000, None

    def on_action(event):
        request = event.request
        with record.lock:
            record.actions.append(
                (
                    str(request.RequestedSOPClassUID),
                    int(request.ActionTypeID),
                    str(request.RequestedSOPInstanceUID),
                )
            )
        return 0x0000, None

    def on_delete(event):
        request = event.request
        with record.lock:
            record.deleted.append(
                (str(request.RequestedSOPClassUID), str(request.RequestedSOPInstanceUID))
            )
        return 0x0000

    def on_get(event):
        if event.request.RequestedSOPClassUID != Printer:
            return 0x0122, None
        answer = Dataset()
        answer.PrinterStatus = behaviour.status
        answer.PrinterStatusInfo = behaviour.status_info
        answer.PrinterName = "Test printer"
        with record.lock:
            record.printer_gets += 1
        return 0x0000, answer

    ae = AE(ae_title=ae_title)
    ae.add_supported_context(BasicGrayscalePrintManagementMeta)
    ae.add_supported_context(Verification)
    handlers = [
        (evt.EVT_N_CREATE, on_create),
        (evt.EVT_N_SET, on_set),
        (evt.EVT_N_ACTION, on_action),
        (evt.EVT_N_DELETE, on_delete),
        (evt.EVT_N_GET, on_get),
    ]
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
    try:
        yield server.server_address[1], record, behaviour
    finally:
        server.shutdown()
