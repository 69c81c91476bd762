from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("imaging", "0009_association_log")]

    operations = [
        migrations.AddField(
            model_name="sendjob",
            name="transform",
            field=models.CharField(blank=True, max_length=100),
        ),
    ]
