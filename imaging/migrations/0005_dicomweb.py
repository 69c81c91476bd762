"""An index for QIDO-RS study searches: newest study date first, as the study list asks.

Written as SQL because the order wants NULLS LAST on PostgreSQL (studies without a date go
last); SQLite puts NULLs last in descending order by itself. The model does not declare it,
so it never shows up as a change to migrate.
"""

from django.db import migrations

_NAME = "study_dicomweb_date_idx"
_COLUMNS = {
    "postgresql": "study_date DESC NULLS LAST, study_time DESC NULLS LAST, id DESC",
    "sqlite": "study_date DESC, study_time DESC, id DESC",
}


def _create(apps, schema_editor) -> None:
    columns = _COLUMNS.get(schema_editor.connection.vendor)
    if columns:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {_NAME} ON imaging_study ({columns})")


def _drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor in _COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS {_NAME}")


class Migration(migrations.Migration):
    dependencies = [("imaging", "0004_annotation_calibration_note")]

    operations = [migrations.RunPython(_create, _drop, elidable=False)]
