"""Generated import material: loose files, ZIP archives and CDs with a DICOMDIR."""

from __future__ import annotations

import zipfile
from pathlib import Path

from pydicom import Dataset
from pydicom.fileset import FileSet
from pydicom.filewriter import write_dataset
from pydicom.uid import generate_uid

from imaging.synthetic import make_dataset, write


def series_datasets(count: int = 3, **fields) -> list[Dataset]:
    study_uid = fields.pop("study_uid", None) or generate_uid()
    series_uid = generate_uid()
    return [
        make_dataset(study_uid=study_uid, series_uid=series_uid, instance_number=n, **fields)
        for n in range(1, count + 1)
    ]


def files_write(folder: Path, datasets: list[Dataset], suffix: str = ".dcm") -> list[Path]:
    return [write(ds, folder / f"IMG{n:04d}{suffix}") for n, ds in enumerate(datasets, 1)]


def raw_write(ds: Dataset, path: Path) -> Path:
    """The data set alone, as some old exporters write it: no preamble, no meta header."""
    ds = ds.copy()
    ds.file_meta = Dataset()
    with open(path, "wb") as out:
        from pydicom.filebase import DicomFileLike

        fp = DicomFileLike(out)
        fp.is_little_endian = True
        fp.is_implicit_VR = True
        write_dataset(fp, ds)
    return path


def zip_write(path: Path, members: dict[str, bytes | Path]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            data = content.read_bytes() if isinstance(content, Path) else content
            archive.writestr(name, data)
    return path


def cd_write(folder: Path, datasets: list[Dataset]) -> Path:
    """A referring clinic's CD: DICOMDIR, images without extension, and a viewer program."""
    fileset = FileSet()
    for ds in datasets:
        fileset.add(ds)
    fileset.write(folder)
    (folder / "AUTORUN.INF").write_text("[autorun]\nopen=VIEWER\\VIEWER.EXE\n")
    (folder / "VIEWER").mkdir()
    (folder / "VIEWER" / "VIEWER.EXE").write_bytes(b"MZ" + b"\0" * 500)
    (folder / "VIEWER" / "DCMTK.DLL").write_bytes(b"MZ" + b"\0" * 300)
    return folder
