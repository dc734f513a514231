"""The staff dashboard's index of finished chunks by when they finished.

Built CONCURRENTLY (the migration is not atomic): the chunks table of a busy
deployment holds millions of rows and workers commit chunks all the time; a
plain CREATE INDEX would hold their writes for as long as it builds.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("bulkyard_jobs", "0014_retention_backfill"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="chunk",
            index=models.Index(
                condition=models.Q(("finished_at__isnull", False)),
                fields=["finished_at"],
                name="chunk_finished",
            ),
        ),
    ]
