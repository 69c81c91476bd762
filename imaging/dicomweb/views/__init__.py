"""DICOMweb views by service: QIDO-RS searches, WADO-RS retrieves, rendered images."""
