"""Load debate topics from article seed files, so a fresh site opens on a real debate.

Idempotent: each file is keyed on its slug, so running it again updates the topic in
place and duplicates nothing.
"""

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from forum.models import Topic
from forum.seeding import SeedError, parse_article
from forum.services import topic_create_from_article

DEFAULT_DIR = Path(settings.BASE_DIR) / "seeds"


class Command(BaseCommand):
    help = (
        "Create or update topics from article seed files (default: every seeds/*.toml)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "paths", nargs="*", type=Path, help="Seed files or folders."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check the files; write nothing."
        )
        parser.add_argument(
            "--only-new",
            action="store_true",
            help="Leave topics that exist as they are (and moderators' edits to them).",
        )

    def handle(self, *args, paths, dry_run, only_new, verbosity, **options):
        files = seed_files(paths or [DEFAULT_DIR])
        for path in files:
            try:
                article = parse_article(path)
                if only_new and Topic.objects.filter(slug=article.slug).exists():
                    if verbosity:
                        self.stdout.write(f"Kept “{article.title}” as it is")
                    continue
                with transaction.atomic():
                    result = topic_create_from_article(article=article)
                    if dry_run:
                        transaction.set_rollback(True)
            except (SeedError, OSError) as exc:
                raise CommandError(str(exc)) from exc
            except ValidationError as exc:
                raise CommandError(f"{path}: {'; '.join(exc.messages)}") from exc
            if verbosity:
                verb = (
                    "Would seed"
                    if dry_run
                    else ("Created" if result.created else "Updated")
                )
                self.stdout.write(
                    self.style.SUCCESS(f"{verb} “{result.topic}” from {path.name}")
                )
            for kept in result.kept:
                self.stderr.write(f"  kept “{kept}”: posts still refer to it")


def seed_files(paths: list[Path]) -> list[Path]:
    files = []
    for path in paths:
        if path.is_dir():
            files += sorted(path.glob("*.toml"))
        elif path.is_file():
            files.append(path)
        else:
            raise CommandError(f"{path}: no such file or folder")
    if not files:
        raise CommandError(f"No seed files (*.toml) in {', '.join(map(str, paths))}")
    return files
