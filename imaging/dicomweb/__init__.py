"""DICOMweb under /dicomweb/ (QIDO-RS search, WADO-RS retrieve, rendered, thumbnails): the
viewer's data path and a standard door for other viewers. Read-only; no STOW-RS yet."""
