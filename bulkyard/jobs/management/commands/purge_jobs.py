from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from bulkyard.jobs.services import PurgeReport, jobs_purge, jobs_purge_preview


class Command(BaseCommand):
    help = (
        "Delete expired jobs (as beat's purge does, without its time budget) with their "
        "results and files; or, with --older-than-days, every job that finished before then."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than-days",
            type=float,
            help="Delete every finished job that ended more than this many days ago, "
            "whatever its expiry.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only say how many jobs and rows would go."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["older_than_days"]
        cutoff = None if days is None else timezone.now() - timedelta(days=days)
        which = "expired" if cutoff is None else f"finished before {cutoff:%Y-%m-%d %H:%M}"
        if options["dry_run"]:
            report = jobs_purge_preview(finished_before=cutoff)
            self.stdout.write(f"Would delete {report.jobs} job(s) {which}{_rows(report)}.")
            return
        report = jobs_purge(finished_before=cutoff)
        self.stdout.write(
            f"Deleted {report.jobs} job(s) {which}{_rows(report)}, "
            f"{report.files} file(s), {report.bytes} byte(s)."
        )


def _rows(report: PurgeReport) -> str:
    if not report.rows:
        return ""
    counts = ", ".join(f"{label} {count}" for label, count in sorted(report.rows.items()))
    return f" (rows: {counts})"
