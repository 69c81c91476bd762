"""Imports through the same ingest as a modality: files, raw data sets, ZIPs, CDs, refusals."""

from pathlib import Path

import pytest
from pydicom import dcmread

from imaging import imports
from imaging.imports import files as import_files
from imaging.models import ImportOutcome, ImportSource, Instance, Study, StudyStatus
from imaging.synthetic import to_bytes
from tests.imaging.import_support import (
    cd_write,
    files_write,
    raw_write,
    series_datasets,
    zip_write,
)

pytestmark = pytest.mark.django_db


def _import(path: Path, name: str | None = None, *, consume: bool = False, user=None):
    batch = imports.batch_open(source=ImportSource.UPLOAD, user=user)
    items = imports.batch_path_import(
        batch=batch, path=path, name=name or path.name, consume=consume
    )
    return imports.batch_close(batch=batch), items


def test_files_are_imported_matched_and_their_study_completed(tmp_path, tech):
    datasets = series_datasets(3, patient_id="P-IMPORT", patient_name="Jones^Bella")
    folder = tmp_path / "export"
    files_write(folder, datasets)

    batch, items = _import(folder, "export", user=tech)

    assert [i.outcome for i in items] == [ImportOutcome.IMPORTED] * 3
    assert (batch.imported, batch.refused, batch.duplicates) == (3, 0, 0)
    study = Study.objects.get(study_instance_uid=datasets[0].StudyInstanceUID)
    assert study.instance_count == 3
    assert study.status == StudyStatus.COMPLETE
    assert study.patient.patient_id == "P-IMPORT"
    assert "by tech" in study.events.get(kind="imported").message
    # The originals stay where they were: only the staged copies were consumed.
    assert len(list(folder.iterdir())) == 3


def test_the_same_files_again_are_skipped_as_already_held_and_changed_ones_replace(tmp_path):
    datasets = series_datasets(2)
    first = files_write(tmp_path / "a", datasets)
    _import(first[0].parent)
    datasets[1].SeriesDescription = "Corrected description"
    files_write(tmp_path / "b", datasets)

    batch, items = _import(tmp_path / "b")

    assert [i.outcome for i in items] == [ImportOutcome.DUPLICATE, ImportOutcome.REPLACED]
    assert (batch.duplicates, batch.replaced, batch.imported) == (1, 1, 0)
    assert Instance.objects.count() == 2


def test_a_raw_data_set_without_preamble_is_accepted(tmp_path):
    [ds] = series_datasets(1)
    raw = raw_write(ds, tmp_path / "IMAGE1")

    batch, [item] = _import(raw)

    assert item.outcome == ImportOutcome.IMPORTED, item.reason
    instance = Instance.objects.get(sop_instance_uid=ds.SOPInstanceUID)
    assert instance.transfer_syntax_uid == "1.2.840.10008.1.2"


def test_photos_and_damaged_files_are_refused_with_the_reason(tmp_path):
    photo = tmp_path / "dog.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 200)
    damaged = tmp_path / "broken.dcm"
    # A Part-10 preamble and magic, then a meta header that lies about its own length.
    damaged.write_bytes(
        b"\0" * 128 + b"DICM" + b"\x02\x00\x00\x00UL\x04\x00\xff\xff\xff\x7f" + b"\x13" * 64
    )

    _, [photo_item] = _import(photo)
    _, [damaged_item] = _import(damaged)

    assert photo_item.outcome == ImportOutcome.REFUSED
    assert "not a DICOM file" in photo_item.reason and "study page" in photo_item.reason
    assert damaged_item.outcome == ImportOutcome.REFUSED
    assert damaged_item.reason.startswith("damaged DICOM file")
    assert not Instance.objects.exists()


def test_a_registered_converter_takes_the_files_that_are_not_dicom(tmp_path):
    [ds] = series_datasets(1)

    class PhotoConverter:
        def accepts(self, *, path, name):
            return name.endswith(".jpg")

        def to_dicom(self, *, path, name, batch):
            out = tmp_path / "converted.dcm"
            out.write_bytes(to_bytes(ds))
            return [out]

    converter = PhotoConverter()
    imports.converter_register(converter)
    try:
        photo = tmp_path / "dog.jpg"
        photo.write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 200)
        _, [item] = _import(photo)
    finally:
        imports.converter_unregister(converter)

    assert item.outcome == ImportOutcome.IMPORTED
    assert Instance.objects.filter(sop_instance_uid=ds.SOPInstanceUID).exists()


def test_a_zip_with_nested_folders_is_unpacked_and_imported(tmp_path):
    datasets = series_datasets(3)
    archive = zip_write(
        tmp_path / "study.zip",
        {
            "exports/day1/IMG1": to_bytes(datasets[0]),
            "exports/day1/deeper/IMG2.dcm": to_bytes(datasets[1]),
            "IMG3": to_bytes(datasets[2]),
            "__MACOSX/._IMG3": b"\0\5\x16\7",
        },
    )

    batch, items = _import(archive, consume=True)

    assert batch.imported == 3
    assert batch.ignored == 1
    assert {i.name for i in items if i.outcome == ImportOutcome.IMPORTED} == {
        "study.zip/exports/day1/IMG1",
        "study.zip/exports/day1/deeper/IMG2.dcm",
        "study.zip/IMG3",
    }
    assert not archive.exists()


def test_zip_members_pointing_outside_the_archive_are_refused(tmp_path):
    [ds] = series_datasets(1)
    archive = zip_write(
        tmp_path / "evil.zip",
        {
            "../../escaped.dcm": to_bytes(ds),
            "/etc/absolute.dcm": to_bytes(ds),
            "ok.dcm": to_bytes(ds),
        },
    )

    batch, items = _import(archive)

    refused = {i.name: i.reason for i in items if i.outcome == ImportOutcome.REFUSED}
    assert set(refused) == {"evil.zip/../../escaped.dcm", "evil.zip//etc/absolute.dcm"}
    assert all("outside the archive" in reason for reason in refused.values())
    assert batch.imported == 1
    assert not (tmp_path.parent / "escaped.dcm").exists()
    assert not list(tmp_path.parent.parent.glob("escaped.dcm"))


def test_a_zip_bomb_is_refused_without_filling_the_disk(tmp_path, monkeypatch):
    from imaging.imports import archives

    monkeypatch.setattr(archives, "RATIO_FROM_BYTES", 1024 * 1024)
    archive = zip_write(tmp_path / "bomb.zip", {"zeros.dcm": b"\0" * (20 * 1024 * 1024)})

    batch, [item] = _import(archive)

    assert item.outcome == ImportOutcome.REFUSED
    assert "zip bomb" in item.reason
    assert batch.refused == 1


def test_a_damaged_zip_is_refused(tmp_path):
    archive = tmp_path / "cut.zip"
    archive.write_bytes(b"PK\x03\x04" + b"\0" * 100)

    _, [item] = _import(archive)

    assert item.outcome == ImportOutcome.REFUSED
    assert "ZIP" in item.reason


def test_a_cd_is_read_through_its_dicomdir_and_the_viewer_is_ignored(tmp_path):
    datasets = series_datasets(3, patient_name="Brown^Max")
    cd = cd_write(tmp_path / "cd", datasets)
    # Copied by hand from the disc, one image file got lost.
    referenced = sorted(p for p in cd.rglob("IM*") if p.is_file())
    assert all(p.suffix == "" for p in referenced)
    referenced[-1].unlink()

    batch, items = _import(cd, "cd")

    outcomes = {i.name: i.outcome for i in items}
    assert batch.imported == 2
    assert batch.refused == 1
    [missing] = [i for i in items if i.outcome == ImportOutcome.REFUSED]
    assert "DICOMDIR" in missing.reason and "missing" in missing.reason
    assert outcomes["cd/VIEWER/VIEWER.EXE"] == ImportOutcome.IGNORED
    assert outcomes["cd/AUTORUN.INF"] == ImportOutcome.IGNORED
    assert outcomes["cd/DICOMDIR"] == ImportOutcome.IGNORED
    assert Instance.objects.count() == 2


def test_a_zipped_cd_is_read_through_its_dicomdir(tmp_path):
    datasets = series_datasets(2)
    cd = cd_write(tmp_path / "cd", datasets)
    members = {str(p.relative_to(cd)): p for p in cd.rglob("*") if p.is_file()}

    batch, _ = _import(zip_write(tmp_path / "cd.zip", members))

    assert batch.imported == 2
    assert batch.refused == 0


def test_the_dicomdir_alone_is_ignored_not_stored(tmp_path):
    cd = cd_write(tmp_path / "cd", series_datasets(1))
    copy = tmp_path / "index"
    copy.write_bytes((cd / "DICOMDIR").read_bytes())

    _, [item] = _import(copy)

    assert item.outcome == ImportOutcome.IGNORED
    assert dcmread(copy).file_meta.MediaStorageSOPClassUID == import_files.MEDIA_STORAGE_DIRECTORY
    assert not Instance.objects.exists()


def test_an_instance_of_another_study_is_refused_when_a_study_is_expected(tmp_path):
    [ds] = series_datasets(1)
    path = tmp_path / "one.dcm"
    path.write_bytes(to_bytes(ds))
    batch = imports.batch_open(source=ImportSource.STOW)

    [item] = imports.batch_path_import(
        batch=batch, path=path, name="one", consume=True, expect_study_uid="1.2.3.4"
    )

    assert item.outcome == ImportOutcome.REFUSED
    assert item.status == 0xA900
    assert item.sop_instance_uid == ds.SOPInstanceUID
