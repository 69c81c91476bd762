import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("imaging", "0008_imports")]

    operations = [
        migrations.CreateModel(
            name="AssociationRecord",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "direction",
                    models.CharField(
                        choices=[("in", "Incoming"), ("out", "Outgoing")], max_length=3
                    ),
                ),
                (
                    "calling_ae",
                    models.CharField(blank=True, max_length=16, verbose_name="calling AE title"),
                ),
                (
                    "called_ae",
                    models.CharField(blank=True, max_length=16, verbose_name="called AE title"),
                ),
                ("peer_host", models.CharField(blank=True, max_length=255)),
                ("peer_port", models.PositiveIntegerField(blank=True, null=True)),
                ("started_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("ended_at", models.DateTimeField(blank=True, null=True)),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            ("released", "Released"),
                            ("aborted", "Aborted"),
                            ("rejected", "Rejected"),
                            ("failed", "Could not connect"),
                        ],
                        max_length=10,
                    ),
                ),
                ("outcome_reason", models.CharField(blank=True, max_length=300)),
                ("accepted_contexts", models.JSONField(blank=True, default=list)),
                ("rejected_contexts", models.JSONField(blank=True, default=list)),
                ("operations", models.JSONField(blank=True, default=dict)),
                ("instances", models.PositiveIntegerField(default=0)),
                ("problems", models.JSONField(blank=True, default=list)),
                ("problem_count", models.PositiveIntegerField(default=0)),
                ("studies", models.JSONField(blank=True, default=dict)),
            ],
            options={
                "ordering": ["-started_at", "-pk"],
                "indexes": [
                    models.Index(fields=["-started_at"], name="assoc_started_idx"),
                    models.Index(
                        fields=["direction", "calling_ae", "-started_at"], name="assoc_calling_idx"
                    ),
                    models.Index(fields=["peer_host", "-started_at"], name="assoc_peer_idx"),
                ],
            },
        ),
    ]
