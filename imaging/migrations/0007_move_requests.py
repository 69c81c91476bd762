from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("imaging", "0006_annotation_share")]

    operations = [
        migrations.AddField(
            model_name="sendjob",
            name="requested_by_ae",
            field=models.CharField(
                blank=True,
                help_text="The AE title whose C-MOVE started this send (blank: started in the portal)",
                max_length=16,
                verbose_name="requested by AE title",
            ),
        ),
    ]
