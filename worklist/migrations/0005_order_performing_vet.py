from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("worklist", "0004_order_history"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="performing_vet",
            field=models.CharField(
                blank=True, max_length=100, verbose_name="performing vet / technician"
            ),
        ),
    ]
