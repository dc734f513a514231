from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from bulkyard.users.services import user_get_or_create_with_token


class Command(BaseCommand):
    help = "Create (or find) a user and print its API token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--password",
            help="Also allow signing in to the web pages (and, with --staff, the admin).",
        )
        parser.add_argument("--staff", action="store_true", help="Make the user an admin.")
        parser.add_argument("--token-only", action="store_true", help="Print only the token.")

    def handle(self, *args: Any, **options: Any) -> None:
        user, token, created = user_get_or_create_with_token(
            username=options["username"],
            email=options["email"],
            password=options["password"],
            is_staff=options["staff"],
        )
        if options["token_only"]:
            self.stdout.write(token)
            return
        verb = "Created" if created else "Found"
        self.stdout.write(f"{verb} user {user.get_username()!r}.")
        self.stdout.write(f"API token: {token}")
        self.stdout.write(f'Use it as:  curl -H "Authorization: Token {token}" ...')
