import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("imaging", "0007_move_requests"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ImportBatch",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("source", models.CharField(choices=[("upload", "Browser upload"), ("stow", "DICOMweb (STOW-RS)"), ("drop_folder", "Drop folder")], max_length=16)),
                ("started_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                ("imported", models.PositiveIntegerField(default=0)),
                ("duplicates", models.PositiveIntegerField(default=0)),
                ("replaced", models.PositiveIntegerField(default=0)),
                ("refused", models.PositiveIntegerField(default=0)),
                ("ignored", models.PositiveIntegerField(default=0)),
                ("created_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "ordering": ["-started_at", "-pk"],
                "permissions": [("import_study", "Can import studies (upload, STOW-RS)")],
            },
        ),
        migrations.CreateModel(
            name="ImportItem",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=500)),
                ("outcome", models.CharField(choices=[("imported", "Imported"), ("duplicate", "Already held"), ("replaced", "Replaced"), ("refused", "Refused"), ("ignored", "Ignored")], max_length=16)),
                ("reason", models.CharField(blank=True, max_length=500)),
                ("size_bytes", models.BigIntegerField(default=0)),
                ("sop_class_uid", models.CharField(blank=True, max_length=64)),
                ("sop_instance_uid", models.CharField(blank=True, max_length=64)),
                ("at", models.DateTimeField(default=django.utils.timezone.now)),
                ("batch", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="items", to="imaging.importbatch")),
                ("study", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="imaging.study")),
            ],
            options={"ordering": ["pk"]},
        ),
    ]  # fmt: skip
