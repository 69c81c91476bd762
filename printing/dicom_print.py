"""The print SCU: Basic Grayscale Print Management Meta SOP Class (PS3.4 Annex H).

One association per job: Printer N-GET (status), N-CREATE Basic Film Session, then per film
N-CREATE Basic Film Box, N-SET of each Basic Grayscale Image Box, N-ACTION PRINT and N-DELETE
of the film box, and finally N-DELETE of the session. The association itself is opened by
`imaging.dicom.scu.association`, so TLS and the diagnosis of unreachable printers are shared
with sends.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image
from pydicom import Dataset, uid
from pydicom.tag import Tag
from pynetdicom.sop_class import (
    BasicFilmBox,
    BasicFilmSession,
    BasicGrayscaleImageBox,
    BasicGrayscalePrintManagementMeta,
    Printer,
    PrinterInstance,
    Verification,
)

from imaging.dicom import scu

META = BasicGrayscalePrintManagementMeta
PRINT_ACTION = 1  # PS3.4 H.4.1.2.4 / H.4.2.2.4: N-ACTION Action Type ID 1 = Print
# PS3.3 C.13.9 Printer Module.
PRINTER_STATUS = Tag(0x2110, 0x0010)
PRINTER_STATUS_INFO = Tag(0x2110, 0x0020)
PRINTER_NAME = Tag(0x2110, 0x0030)

# PS3.4 H.4 statuses a printer answers, in a clinic's words.
_STATUS_WORDS = {
    0x0106: "it does not accept one of the values sent",
    0x0107: "it does not know one of the attributes sent",
    0x0110: "it failed while processing the request",
    0x0120: "an attribute it needs is missing",
    0x0122: "it does not support this kind of print request",
    0x0213: "it ran out of resources (memory or film)",
    0xC600: "the film session has no film box to print",
    0xC601: "the film session holds no image to print",
    0xC602: "the film box holds no image to print",
    0xC603: "the image is larger than its image box",
    0xC605: "it ran out of memory for the film session",
    0xC613: "it cannot print the image at this size or magnification",
    0xC616: "a previous film was not printed yet",
}


class PrintFailed(scu.TransportError):
    """The printer refused or failed a step; `str(e)` tells the clinic what happened."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


@dataclass(frozen=True)
class PrinterTarget:
    """A printer as the network code sees it, with what it offers."""

    peer: scu.Peer
    name: str
    film_sizes: Sequence[str] = ()

    @property
    def label(self) -> str:
        return f"printer {self.name} ({self.peer.ae_title}) at {self.peer.where}"


@dataclass(frozen=True)
class FilmRequest:
    """What to print, how: one Basic Film Session; images fill films of `layout` in order."""

    layout: str  # Image Display Format, e.g. "STANDARD\\2,2"
    film_size: str
    orientation: str
    magnification: str
    medium_type: str
    copies: int
    images: Sequence[Image.Image]  # mode "L", already scaled to fit their box
    boxes_per_film: int


@dataclass(frozen=True)
class PrinterStatus:
    status: str  # NORMAL, WARNING, FAILURE, or "" when the printer did not say
    info: str
    name: str = ""


@dataclass(frozen=True)
class PrintOutcome:
    films: int
    before: PrinterStatus
    after: PrinterStatus


def _contexts() -> list[tuple[str, list[str]]]:
    return [(META, scu.UNCOMPRESSED), (Verification, scu.UNCOMPRESSED)]


def _unreachable(target: PrinterTarget, exc: scu.TransportError) -> scu.TransportError:
    # Permanent: the printer answered and refused (unknown AE title, certificate); otherwise
    # nothing usable came back (nothing listening, firewall, busy).
    verb = "refused the connection" if exc.permanent else "did not answer"
    return scu.TransportError(f"The {target.label} {verb}: {exc}", permanent=exc.permanent)


def _refusal(target: PrinterTarget, step: str, status: Dataset | None) -> PrintFailed:
    if not status or "Status" not in status:
        return PrintFailed(f"The {target.label} stopped answering while {step}.")
    code = int(status.Status)
    words = _STATUS_WORDS.get(code, "it answered with an error")
    comment = str(status.get("ErrorComment", "") or "").strip()
    detail = f" ({comment})" if comment else ""
    return PrintFailed(f"The {target.label} refused {step}: {words}{detail} [0x{code:04X}].")


def _ok(status: Dataset | None) -> bool:
    # PS3.4 H.4: warnings (0xB600, 0xB602, 0xB603, 0xB605 …) still print.
    return (
        bool(status) and "Status" in status and (status.Status == 0 or status.Status >> 12 == 0xB)
    )


def printer_status_get(assoc) -> PrinterStatus:
    """Printer SOP Class N-GET on its well-known instance (PS3.4 H.4.11.1.1)."""
    status, attributes = assoc.send_n_get(
        [PRINTER_STATUS, PRINTER_STATUS_INFO], Printer, PrinterInstance, meta_uid=META
    )
    if not _ok(status) or attributes is None:
        return PrinterStatus(status="", info="")
    return PrinterStatus(
        status=str(attributes.get("PrinterStatus", "") or ""),
        info=str(attributes.get("PrinterStatusInfo", "") or ""),
        name=str(attributes.get("PrinterName", "") or ""),
    )


def printer_check(target: PrinterTarget) -> tuple[float, PrinterStatus]:
    """C-ECHO and Printer N-GET on one association: the round trip in seconds and what the
    printer says about itself."""
    started = time.monotonic()
    try:
        with scu.association(target.peer, _contexts()) as assoc:
            accepted = {str(context.abstract_syntax) for context in assoc.accepted_contexts}
            if Verification in accepted:
                answer = assoc.send_c_echo()
                if not answer or answer.get("Status") != 0x0000:
                    raise PrintFailed(f"The {target.label} answered the echo with an error.")
            seconds = time.monotonic() - started
            if META not in accepted:
                raise PrintFailed(
                    f"The {target.label} answers, but does not accept grayscale printing "
                    "(Basic Grayscale Print Management): is it a printer?"
                )
            return seconds, printer_status_get(assoc)
    except PrintFailed:
        raise
    except scu.TransportError as exc:
        raise _unreachable(target, exc) from exc


def film_print(target: PrinterTarget, request: FilmRequest) -> PrintOutcome:
    """Print the request's images; raises PrintFailed or TransportError in plain words."""
    offered = list(target.film_sizes)
    if offered and request.film_size not in offered:
        raise PrintFailed(
            f"The {target.label} does not offer film size {request.film_size}: it offers "
            f"{', '.join(offered)}."
        )
    if not request.images:
        raise PrintFailed("There is no image to print.")
    try:
        with scu.association(target.peer, _contexts()) as assoc:
            try:
                return _print_on(assoc, target, request)
            except (RuntimeError, ValueError) as exc:
                # pynetdicom refuses to send on an association the printer has aborted.
                raise PrintFailed(
                    f"The connection to the {target.label} ended while printing ({exc})."
                ) from exc
    except PrintFailed:
        raise
    except scu.TransportError as exc:
        raise _unreachable(target, exc) from exc


def _print_on(assoc, target: PrinterTarget, request: FilmRequest) -> PrintOutcome:
    if META not in {str(context.abstract_syntax) for context in assoc.accepted_contexts}:
        raise PrintFailed(
            f"The {target.label} does not accept grayscale printing (Basic Grayscale Print "
            "Management): check the AE title and port of the printer."
        )
    before = printer_status_get(assoc)
    if before.status == "FAILURE":
        info = f" ({before.info})" if before.info else ""
        raise PrintFailed(f"The {target.label} reports a failure{info}: nothing was printed.")
    session_uid = uid.generate_uid()
    session = Dataset()
    session.NumberOfCopies = request.copies
    session.MediumType = request.medium_type
    session.FilmDestination = "MAGAZINE"
    session.PrintPriority = "MED"
    status, _ = assoc.send_n_create(session, BasicFilmSession, session_uid, meta_uid=META)
    if not _ok(status):
        raise _refusal(target, f"the film session ({request.copies} copies)", status)
    films = 0
    per_film = request.boxes_per_film
    for start in range(0, len(request.images), per_film):
        _film_print(assoc, target, request, session_uid, request.images[start : start + per_film])
        films += 1
    # PS3.4 H.4.1.2.3: deleting the session frees what the printer kept for it.
    assoc.send_n_delete(BasicFilmSession, session_uid, meta_uid=META)
    after = printer_status_get(assoc)
    return PrintOutcome(films=films, before=before, after=after)


def _film_print(assoc, target, request: FilmRequest, session_uid: str, images) -> None:
    film_box_uid = uid.generate_uid()
    film_box = Dataset()
    film_box.ImageDisplayFormat = request.layout
    film_box.FilmOrientation = request.orientation
    film_box.FilmSizeID = request.film_size
    film_box.MagnificationType = request.magnification
    reference = Dataset()
    reference.ReferencedSOPClassUID = BasicFilmSession
    reference.ReferencedSOPInstanceUID = session_uid
    film_box.ReferencedFilmSessionSequence = [reference]
    status, created = assoc.send_n_create(film_box, BasicFilmBox, film_box_uid, meta_uid=META)
    if not _ok(status):
        if status and status.get("Status") in (0x0106, 0x0120):
            offered = ", ".join(target.film_sizes) or "other sizes"
            raise PrintFailed(
                f"The {target.label} refused film size {request.film_size} with layout "
                f"{request.layout.replace(chr(92), ' ')} in {request.orientation.lower()}: "
                f"it offers {offered}."
            )
        raise _refusal(target, f"the film ({request.film_size})", status)
    boxes = list((created or Dataset()).get("ReferencedImageBoxSequence", []))
    if len(boxes) < len(images):
        raise PrintFailed(
            f"The {target.label} made {len(boxes)} image boxes for layout {request.layout}, "
            f"not the {len(images)} needed."
        )
    # PS3.4 H.4.3.1: each image box gets its image by N-SET, in the order the printer listed.
    for position, (box, image) in enumerate(zip(boxes, images, strict=False), start=1):
        status, _ = assoc.send_n_set(
            image_box_dataset(image, position=position),
            box.ReferencedSOPClassUID or BasicGrayscaleImageBox,
            box.ReferencedSOPInstanceUID,
            meta_uid=META,
        )
        if not _ok(status):
            raise _refusal(target, f"image {position}", status)
    status, _ = assoc.send_n_action(None, PRINT_ACTION, BasicFilmBox, film_box_uid, meta_uid=META)
    if not _ok(status):
        raise _refusal(target, "to print the film", status)
    assoc.send_n_delete(BasicFilmBox, film_box_uid, meta_uid=META)


def image_box_dataset(image: Image.Image, *, position: int) -> Dataset:
    """The N-SET of one Basic Grayscale Image Box (PS3.3 C.13.5): 8-bit MONOCHROME2 pixels."""
    pixels = np.asarray(image.convert("L"), dtype=np.uint8)
    item = Dataset()
    item.SamplesPerPixel = 1
    item.PhotometricInterpretation = "MONOCHROME2"
    item.Rows, item.Columns = pixels.shape
    item.PixelAspectRatio = [1, 1]
    item.BitsAllocated = 8
    item.BitsStored = 8
    item.HighBit = 7
    item.PixelRepresentation = 0
    item.PixelData = pixels.tobytes()
    item["PixelData"].VR = "OB"
    box = Dataset()
    box.ImageBoxPosition = position
    box.BasicGrayscaleImageSequence = [item]
    return box
