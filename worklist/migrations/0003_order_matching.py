from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("worklist", "0002_seed_catalog")]

    operations = [
        migrations.AddField(
            model_name="order",
            name="matched_by",
            field=models.CharField(blank=True, max_length=16),
        ),
        migrations.AddField(
            model_name="order",
            name="mismatch",
            field=models.CharField(blank=True, max_length=300),
        ),
    ]
