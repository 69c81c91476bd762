"""DICOMweb (QIDO-RS, WADO-RS, STOW-RS) under /dicomweb/: the viewer's data path and a standard door for other viewers."""
