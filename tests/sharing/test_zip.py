"""The share's ZIP: valid DICOM files, a DICOMDIR pydicom reads, anonymized when promised, the
signed report's PDF, and only the shared series."""

import io
import zipfile
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.fileset import FileSet

from reports.reports import report_save, report_sign, report_start
from sharing.export import share_zip
from tests.sharing.conftest import series_uids

pytestmark = pytest.mark.django_db


def _unzip(share, tmp_path: Path) -> tuple[zipfile.ZipFile, Path]:
    chunks = list(share_zip(share))
    assert len(chunks) > 3  # produced piece by piece, not as one body
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.testzip() is None
    folder = tmp_path / "unzipped"
    archive.extractall(folder)
    return archive, folder


def test_the_zip_holds_every_instance_and_a_dicomdir_pydicom_reads(make_share, study, tmp_path):
    share = make_share().share
    archive, folder = _unzip(share, tmp_path)
    fileset = FileSet(dcmread(folder / "DICOMDIR"))
    assert len(fileset) == 4
    sops = {fi.SOPInstanceUID for fi in fileset}
    read = [dcmread(folder / Path(fi.FileID)) for fi in fileset]
    assert {ds.SOPInstanceUID for ds in read} == sops
    assert all(ds.PixelData for ds in read)  # full files, not the headers the index was built from
    assert {ds.StudyInstanceUID for ds in read} == {study.study_instance_uid}
    assert str(read[0].PatientName) == "Smith^Rex"
    assert "REPORT.pdf" not in archive.namelist()


def test_an_anonymized_zip_keeps_the_study_whole_and_the_owner_out(make_share, study, tmp_path):
    share = make_share(anonymize=True).share
    _, folder = _unzip(share, tmp_path)
    fileset = FileSet(dcmread(folder / "DICOMDIR"))
    read = [dcmread(folder / Path(fi.FileID)) for fi in fileset]
    assert len(read) == 4
    assert len({ds.StudyInstanceUID for ds in read}) == 1
    assert read[0].StudyInstanceUID != study.study_instance_uid
    assert len({ds.SeriesInstanceUID for ds in read}) == 2
    assert len({ds.FrameOfReferenceUID for ds in read}) == 1
    for ds in read:
        assert str(ds.PatientName) == "Anonymized" and ds.PatientID == "ANONYMIZED"
        assert "ResponsiblePerson" not in ds and "InstitutionName" not in ds
        assert ds.PatientSpeciesDescription == "Canine" and ds.PatientSexNeutered == "ALTERED"
        assert ds.PatientIdentityRemoved == "YES"
    raw = b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())
    assert b"Smith" not in raw and b"Elm Street" not in raw
    assert study.study_instance_uid.encode() not in raw


def test_only_the_shared_series_are_in_the_zip(make_share, study, tmp_path):
    wanted = series_uids(study)[1]
    share = make_share(series_uids=[wanted]).share
    _, folder = _unzip(share, tmp_path)
    read = [dcmread(folder / Path(fi.FileID)) for fi in FileSet(dcmread(folder / "DICOMDIR"))]
    assert {ds.SeriesInstanceUID for ds in read} == {wanted}


def test_the_signed_report_pdf_goes_with_a_share_that_includes_it(make_share, study, vet, tmp_path):
    report = report_start(study=study, user=vet)
    report_save(report=report, findings="Normal heart.", impression="No disease.", user=vet)
    share = make_share(include_report=True).share
    archive, _ = _unzip(share, tmp_path)
    assert "REPORT.pdf" not in archive.namelist()  # a draft does not go
    report_sign(report=report, user=vet)
    archive, folder = _unzip(share, tmp_path / "signed")
    assert (folder / "REPORT.pdf").read_bytes().startswith(b"%PDF")
    # The report's Encapsulated PDF stored into the study is not sent as DICOM.
    for fi in FileSet(dcmread(folder / "DICOMDIR")):
        assert fi.SOPClassUID != "1.2.840.10008.5.1.4.1.1.104.1"
