"""Many small one-instance studies for the search benchmarks (QIDO-RS, C-FIND), made once.

The same studies go to the portal as index rows created in bulk (`portal_rows`: searches
answer from the index, so no files are needed) and to Orthanc as real small instances.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from bench import data

MODALITIES = ("DX", "CR", "US", "CT")


@dataclass(frozen=True)
class SmallStudies:
    directory: Path
    rows: list[dict]

    def __len__(self) -> int:
        return len(self.rows)


def _study_row(index: int) -> dict:
    from pydicom.uid import generate_uid

    patient = index // 4  # four studies per animal
    return {
        "patient_id": f"BQ-{patient:05d}",
        "owner": f"Owner{patient:05d}",
        "animal": f"Pet{patient:05d}",
        "species": ("Canine", "Feline", "Equine")[patient % 3],
        "date": (date(2024, 1, 1) + timedelta(days=index % 730)).strftime("%Y%m%d"),
        "accession": f"Q{index:07d}",
        "modality": MODALITIES[index % len(MODALITIES)],
        "study_uid": generate_uid(),
        "series_uid": generate_uid(),
        "sop_uid": generate_uid(),
    }


def small_studies(root: Path, *, count: int) -> SmallStudies:
    """`count` one-instance studies (8×8 pixels) for the search benchmark, cached under `root`."""
    name = f"qido-{count}"

    def generate(directory: Path) -> data.DataSet:
        from imaging.synthetic import make_dataset, write

        rows = [_study_row(i) for i in range(count)]
        total = 0
        for row in rows:
            ds = make_dataset(
                modality=row["modality"], study_uid=row["study_uid"],
                series_uid=row["series_uid"], sop_uid=row["sop_uid"],
                patient_id=row["patient_id"], patient_name=f"{row['owner']}^{row['animal']}",
                species=row["species"], responsible_person=row["owner"],
                accession=row["accession"], rows=8, columns=8, frames=1,
            )  # fmt: skip
            ds.StudyDate = row["date"]
            path = write(ds, directory / row["study_uid"][-6:] / f"{row['sop_uid']}.dcm")
            total += path.stat().st_size
        (directory.parent / "studies.json").write_text(json.dumps(rows))
        return data.DataSet("qido", f"{count} studies", directory, "", "", count, total)

    dataset = data._cached(root, name, generate)
    rows = json.loads((dataset.directory.parent / "studies.json").read_text())
    return SmallStudies(dataset.directory, rows)


def portal_rows(small: SmallStudies) -> None:
    """The same studies as index rows, created in bulk (no files: QIDO answers from the index)."""
    from datetime import datetime

    from django.db import transaction

    from clinic.models import Patient
    from imaging.models import Instance, Series, Study, StudyStatus

    with transaction.atomic():
        patients = {}
        for row in small.rows:
            patients.setdefault(row["patient_id"], Patient(
                patient_id=row["patient_id"], name=row["animal"],
                species=row["species"].lower(), responsible_person=row["owner"],
                dicom_name=f"{row['owner']}^{row['animal']}",
            ))  # fmt: skip
        Patient.objects.bulk_create(patients.values(), batch_size=1000)
        ids = dict(Patient.objects.values_list("patient_id", "pk"))
        studies = Study.objects.bulk_create(
            [Study(study_instance_uid=row["study_uid"], patient_id=ids[row["patient_id"]],
                   accession_number=row["accession"], modalities=row["modality"],
                   study_date=datetime.strptime(row["date"], "%Y%m%d").date(),
                   description="Thorax", status=StudyStatus.COMPLETE, series_count=1,
                   instance_count=1, size_bytes=1000)
             for row in small.rows],
            batch_size=1000,
        )  # fmt: skip
        series = Series.objects.bulk_create(
            [Series(study=study, series_instance_uid=row["series_uid"], series_number=1,
                    modality=row["modality"], instance_count=1)
             for study, row in zip(studies, small.rows, strict=True)],
            batch_size=1000,
        )  # fmt: skip
        Instance.objects.bulk_create(
            [Instance(series=one, sop_instance_uid=row["sop_uid"], instance_number=1,
                      sop_class_uid="1.2.840.10008.5.1.4.1.1.7", transfer_syntax_uid="1.2.840.10008.1.2.1",
                      rows=8, columns=8, size_bytes=1000, sha256="0" * 64, storage_key="")
             for one, row in zip(series, small.rows, strict=True)],
            batch_size=1000,
        )  # fmt: skip
