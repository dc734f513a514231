"""The email ledger follows the shared send-once protocol (bulkyard.jobs.ledger):
``sent`` and ``failed`` become ``done`` with ``succeeded`` true or false, and
``attempts`` (runs that claimed the row) is called ``runs``."""

from django.db import migrations, models


def _to_done(apps, schema_editor):
    deliveries = apps.get_model("bulkyard_mail", "EmailDelivery").objects
    deliveries.filter(status="sent").update(status="done", succeeded=True)
    deliveries.filter(status="failed").update(status="done", succeeded=False)


def _to_sent_or_failed(apps, schema_editor):
    deliveries = apps.get_model("bulkyard_mail", "EmailDelivery").objects
    deliveries.filter(status="done", succeeded=True).update(status="sent")
    deliveries.filter(status="done").update(status="failed")


class Migration(migrations.Migration):
    dependencies = [
        ("bulkyard_mail", "0001_email_delivery"),
    ]

    operations = [
        migrations.RenameField(model_name="emaildelivery", old_name="attempts", new_name="runs"),
        migrations.AddField(
            model_name="emaildelivery",
            name="succeeded",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="emaildelivery",
            name="status",
            field=models.CharField(
                choices=[("pending", "Pending"), ("sending", "Sending"), ("done", "Done")],
                default="pending",
                max_length=16,
            ),
        ),
        migrations.RunPython(_to_done, _to_sent_or_failed),
    ]
