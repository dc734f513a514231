"""Retention (decision 0018): each job's retention_days and expires_at, and the
index the purge scans. Filled in for existing jobs by 0014_retention_backfill."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("bulkyard_jobs", "0012_quotas"),
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
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                condition=models.Q(("expires_at__isnull", False)),
                fields=["expires_at"],
                name="job_expires",
            ),
        ),
    ]
