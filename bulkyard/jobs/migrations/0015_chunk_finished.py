"""The staff dashboard's index of finished chunks by when they finished.

Built CONCURRENTLY on PostgreSQL (the migration is not atomic): the chunks
table of a busy deployment holds millions of rows and workers commit chunks
all the time; a plain CREATE INDEX would hold their writes for as long as it
builds. SQLite (bin/run's embedded default) has no such option nor the need.
"""

from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    def database_forwards(self, app_label: str, schema_editor: Any, *states: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, *states)
        else:
            migrations.AddIndex.database_forwards(self, app_label, schema_editor, *states)

    def database_backwards(self, app_label: str, schema_editor: Any, *states: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, *states)
        else:
            migrations.AddIndex.database_backwards(self, app_label, schema_editor, *states)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("bulkyard_jobs", "0014_retention_backfill"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="chunk",
            index=models.Index(
                condition=models.Q(("finished_at__isnull", False)),
                fields=["finished_at"],
                name="chunk_finished",
            ),
        ),
    ]
