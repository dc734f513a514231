"""Retention (decision 0018): each job's retention_days and expires_at, filled
in for the jobs that exist, then the index the purge scans."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import migrations, models
from django.db.models import F
from django.db.models.functions import Coalesce

FINISHED = ["succeeded", "completed_with_errors", "failed", "cancelled"]


def _retention_of_existing_jobs(apps: Any, schema_editor: Any) -> None:
    """Jobs that exist get the server's retention (BULKYARD_RETENTION_DAYS, read
    now; 0 leaves them kept forever), finished ones their expiry from their end.

    One UPDATE per group, not batches: a migration is one transaction anyway,
    the jobs table has a row per job (not per item), and the finished jobs it
    rewrites are rows nobody writes any more. The finished jobs go first, so
    the active ones, which workers update as chunks commit, are locked only
    for the last, short statement (decision 0018 has the figures).
    """
    days = settings.BULKYARD_RETENTION_DAYS
    if not days:
        return
    jobs = apps.get_model("bulkyard_jobs", "Job").objects
    jobs.filter(status__in=FINISHED).update(
        retention_days=days,
        expires_at=Coalesce(F("finished_at"), F("created_at")) + timedelta(days=days),
    )
    jobs.exclude(status__in=FINISHED).update(retention_days=days)


class Migration(migrations.Migration):
    dependencies = [
        ("bulkyard_jobs", "0011_completion_callbacks"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="expires_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When the finished job is deleted with its results and files; "
                "null while it is active, or if it is kept forever.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="job",
            name="retention_days",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="Days the job is kept once finished; null: forever.",
                null=True,
            ),
        ),
        migrations.RunPython(_retention_of_existing_jobs, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                condition=models.Q(("expires_at__isnull", False)),
                fields=["expires_at"],
                name="job_expires",
            ),
        ),
    ]
