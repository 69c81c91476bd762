from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("imaging", "0003_annotations"),
    ]

    operations = [
        migrations.AddField(
            model_name="annotation",
            name="calibration_note",
            field=models.CharField(blank=True, max_length=200),
        ),
    ]
