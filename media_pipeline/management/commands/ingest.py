"""`manage.py ingest PATH... --user USER`: send local files through the upload pipeline."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from media_pipeline.ingest import ingest_file


class Command(BaseCommand):
    help = "Stage local files and enqueue them for processing, exactly as an upload would."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--user", required=True, help="owner of the new assets")

    def handle(self, *args: object, paths: list[Path], user: str, **options: object) -> None:
        try:
            owner = get_user_model().objects.get(username=user)
        except get_user_model().DoesNotExist:
            raise CommandError(f"no user {user!r}") from None
        failures = 0
        for path in paths:
            try:
                asset = ingest_file(path, owner)
            except (OSError, ValueError) as exc:
                failures += 1
                self.stderr.write(f"{path}: {exc}")
                continue
            self.stdout.write(f"{asset.id}\t{path}")
        if failures:
            raise CommandError(f"{failures} of {len(paths)} files were not ingested")
