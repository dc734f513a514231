from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bulkyard.targets.access import OPERATIONS
from bulkyard.targets.registry import get_target
from bulkyard.targets.services import target_grant


class Command(BaseCommand):
    help = (
        "Let a user import into, export or email the rows of a target (their own rows, "
        "for a scoped target such as 'contacts'): grants the permissions the target names."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("target", help="A registered target, e.g. contacts.")
        parser.add_argument(
            "--operations",
            nargs="+",
            choices=OPERATIONS,
            default=list(OPERATIONS),
            help="What the user may do (default: all of them).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = get_user_model().objects.get(username=options["username"])
            target = get_target(options["target"])
        except (LookupError, get_user_model().DoesNotExist) as exc:
            raise CommandError(str(exc)) from None
        granted = target_grant(user=user, target=target, operations=options["operations"])
        self.stdout.write(
            f"{user.get_username()} may {', '.join(options['operations'])} on "
            f"{target.name!r} ({', '.join(granted)})."
        )
