from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from bulkyard.jobs.services import jobs_purge


class Command(BaseCommand):
    help = "Delete finished jobs older than N days, with their results and files."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than-days", type=float, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        cutoff = timezone.now() - timedelta(days=options["older_than_days"])
        deleted = jobs_purge(finished_before=cutoff)
        self.stdout.write(f"Deleted {deleted} job(s) finished before {cutoff:%Y-%m-%d %H:%M}.")
