"""The import key ledger gets (job, key) as its primary key instead of an id.

Django cannot turn an existing table's primary key into a composite one, so the
table is dropped and created again. Its rows live only while an import runs:
apply this migration with no import in progress (a running import would lose
the "last row wins" record of the keys it has written so far).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("bulkyard_data", "0003_import_key_without_constraint"),
        ("bulkyard_jobs", "0003_job_attachment"),
    ]

    operations = [
        migrations.DeleteModel(name="ImportKey"),
        migrations.CreateModel(
            name="ImportKey",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "job",
                        "key",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                (
                    "job",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        to="bulkyard_jobs.job",
                    ),
                ),
                ("key", models.TextField()),
                ("line", models.BigIntegerField()),
            ],
        ),
    ]
