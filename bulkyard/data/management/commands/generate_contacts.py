from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from bulkyard.data.samples import open_output, write_contacts


class Command(BaseCommand):
    help = "Write a CSV of sample contacts (for the 'contacts' import target)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="Output file; a .gz name writes gzip.")
        parser.add_argument("--rows", type=int, default=10_000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--invalid-every", type=int, default=0, help="Put a mistake in every N-th row."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with open_output(options["path"]) as out:
            rows = write_contacts(
                out,
                rows=options["rows"],
                seed=options["seed"],
                invalid_every=options["invalid_every"],
            )
        self.stdout.write(f"Wrote {rows} contacts to {options['path']}.")
