"""Annotations drawn through a share link: the share's key and the label of who drew them."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("imaging", "0005_dicomweb")]

    operations = [
        migrations.AddField(
            model_name="annotation",
            name="share_key",
            field=models.CharField(blank=True, db_index=True, max_length=64),
        ),
        migrations.AddField(
            model_name="annotation",
            name="author_label",
            field=models.CharField(blank=True, max_length=200),
        ),
    ]
