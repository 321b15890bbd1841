"""`manage.py api_token USER [--create]`: print a new API bearer token on the last line."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from media_pipeline.models import ApiToken


class Command(BaseCommand):
    help = "Issue an API bearer token for USER and print it on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--create", action="store_true", help="create the user if missing")

    def handle(self, *args: object, username: str, create: bool, **options: object) -> None:
        user_model = get_user_model()
        if create:
            user, _ = user_model.objects.get_or_create(username=username)
        else:
            try:
                user = user_model.objects.get(username=username)
            except user_model.DoesNotExist:
                raise CommandError(f"no user {username!r} (add --create to create it)") from None
        self.stdout.write(ApiToken.issue(user))
