"""Imports of DICOM files: browser uploads (files, folders, ZIP, CDs), STOW-RS and the drop folder.

`batch.py` takes files through ingest and records each outcome; `archives.py` reads ZIPs and
CD folders; `files.py` tells DICOM from the rest and holds the converters for non-DICOM files.
"""

from imaging.imports.batch import (
    batch_cd_plan,
    batch_close,
    batch_file_stage,
    batch_open,
    batch_path_import,
    batch_refuse,
)
from imaging.imports.files import Refused, converter_register, converter_unregister

__all__ = [
    "Refused", "batch_cd_plan", "batch_close", "batch_file_stage", "batch_open", "batch_path_import", "batch_refuse",
    "converter_register", "converter_unregister",
]  # fmt: skip
