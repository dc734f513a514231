"""The request ledger records whether a done request succeeded in a column of
its own, as every send-once ledger does (bulkyard.jobs.ledger); filled from the
recorded outcomes."""

from django.db import migrations, models


def _fill(apps, schema_editor):
    calls = apps.get_model("bulkyard_outbound", "OutboundCall").objects.filter(status="done")
    calls.filter(outcome__succeeded=True).update(succeeded=True)
    calls.filter(outcome__succeeded=False).update(succeeded=False)


class Migration(migrations.Migration):
    dependencies = [
        ("bulkyard_outbound", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="outboundcall",
            name="succeeded",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.RunPython(_fill, migrations.RunPython.noop),
    ]
