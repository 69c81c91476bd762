"""PDF documents as Encapsulated PDF Storage (PS3.3 A.45.1): the file kept byte for byte."""

from __future__ import annotations

from pydicom import Dataset
from pydicom.uid import EncapsulatedPDFStorage

from imaging.convert.common import MediaRefused

SOP_CLASS = EncapsulatedPDFStorage
MODALITY = "DOC"  # PS3.3 C.7.3.1.1.1: document
# Larger than any referral letter or lab report; a scan this big belongs in a PACS as images.
MAX_BYTES = 200 * 1024 * 1024


def document_convert(data: bytes, *, title: str) -> Dataset:
    """The Encapsulated Document and SC Equipment attributes of a PDF, its bytes included."""
    if not data.startswith(b"%PDF-"):
        raise MediaRefused("the file is not a PDF document")
    if len(data) > MAX_BYTES:
        raise MediaRefused("the PDF is larger than 200 MB: split it or scan at a lower resolution")
    if b"%%EOF" not in data[-2048:]:
        raise MediaRefused("the PDF is incomplete (cut short while copying): save it again")
    ds = Dataset()
    ds.ConversionType = "WSD"  # PS3.3 C.8.6.1: workstation (the file came from a computer)
    ds.BurnedInAnnotation = "YES"  # a letter names the patient in its text
    ds.DocumentTitle = title[:64]
    ds.ConceptNameCodeSequence = []
    ds.AcquisitionDateTime = ""
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    # PS3.3 C.24.2.1: OB is padded to even length; the length keeps the exact size.
    ds.EncapsulatedDocument = data + b"\0" if len(data) & 1 else data
    ds.EncapsulatedDocumentLength = len(data)
    return ds
