"""Workers claim chunks and job steps from the database (decision 0009)."""

from typing import Any

import django.utils.timezone
from django.conf import settings
from django.db import migrations, models
from django.db.models import Q


def _queues_of_unfinished_chunks(apps: Any, schema_editor: Any) -> None:
    """Chunks still to run when this version arrives are claimed from their
    kind's queue (kinds unknown here go to the I/O queue)."""
    from bulkyard.jobs import registry

    chunk_model = apps.get_model("bulkyard_jobs", "Chunk")
    unfinished = chunk_model.objects.filter(status__in=["pending", "running"])
    for kind in set(unfinished.values_list("job__kind", flat=True)):
        try:
            queue = registry.get(kind).queue
        except registry.UnknownKind:
            queue = settings.BULKYARD_QUEUE_IO
        unfinished.filter(job__kind=kind).update(queue=queue)


class Migration(migrations.Migration):
    dependencies = [
        ("bulkyard_jobs", "0005_job_input_format_zip"),
    ]

    operations = [
        migrations.RemoveField(model_name="job", name="plan_enqueued_at"),
        migrations.AddField(
            model_name="job",
            name="lease_token",
            field=models.UUIDField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="job",
            name="lease_expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="job",
            name="step_attempts",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.RemoveIndex(model_name="chunk", name="chunk_pending_enqueued"),
        migrations.RenameField(model_name="chunk", old_name="enqueued_at", new_name="available_at"),
        migrations.RunSQL(
            "UPDATE bulkyard_jobs_chunk "
            "SET available_at = COALESCE(started_at, finished_at, CURRENT_TIMESTAMP) "
            "WHERE available_at IS NULL",
            migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name="chunk",
            name="available_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="chunk",
            name="queue",
            field=models.CharField(default="", max_length=100),
            preserve_default=False,
        ),
        migrations.RunPython(_queues_of_unfinished_chunks, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="chunk",
            index=models.Index(
                condition=Q(status="pending"),
                fields=["queue", "available_at", "id"],
                name="chunk_pending_claim",
            ),
        ),
    ]
