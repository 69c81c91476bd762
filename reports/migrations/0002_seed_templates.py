"""Seed the report templates so vets can write reports at once."""

from django.db import migrations


def seed(apps, schema_editor):
    from reports.catalog import template_seed

    template_seed(apps.get_model("reports", "ReportTemplate"))


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
