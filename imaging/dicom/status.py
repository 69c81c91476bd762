"""C-STORE response statuses the portal answers with (PS3.4 Annex B.2.3, PS3.7 Annex C)."""

SUCCESS = 0x0000
# Out of resources: the portal cannot store right now (disk full); the sender should retry later.
OUT_OF_RESOURCES = 0xA700
# Data set does not match SOP class: required UIDs missing or inconsistent.
DATASET_DOES_NOT_MATCH_SOP_CLASS = 0xA900
# Cannot understand: the bytes could not be parsed as a DICOM data set.
CANNOT_UNDERSTAND = 0xC000
# Processing failure: something on our side went wrong storing a valid data set.
PROCESSING_FAILURE = 0x0110
