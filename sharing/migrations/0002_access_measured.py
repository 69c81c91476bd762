"""The access log records a specialist's measurements ("measured")."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("sharing", "0001_sharing")]

    operations = [
        migrations.AlterField(
            model_name="shareaccess",
            name="action",
            field=models.CharField(
                choices=[
                    ("opened", "Opened"),
                    ("passcode_failed", "Wrong passcode"),
                    ("locked", "Locked after wrong passcodes"),
                    ("refused", "Refused (expired or revoked)"),
                    ("viewed_series", "Viewed series"),
                    ("downloaded", "Downloaded"),
                    ("replied", "Replied"),
                    ("measured", "Measured"),
                ],
                max_length=20,
            ),
        ),
    ]
