"""Seed the procedure catalog so a new clinic can book exams at once."""

from django.db import migrations


def seed(apps, schema_editor):
    from worklist.catalog import catalog_seed

    catalog_seed(
        apps.get_model("worklist", "Procedure"), apps.get_model("worklist", "ExpectedView")
    )


class Migration(migrations.Migration):
    dependencies = [("worklist", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
