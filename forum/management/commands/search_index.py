"""Rebuild the full-text index from the posts (forum/search.py).

The services keep the index in step in every writing transaction; this is
the repair after something wrote around them (a restored backup, a username
changed in the admin), and how a new search engine is first filled.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from forum import search


class Command(BaseCommand):
    help = "Rebuild the search index from every published reply."

    def add_arguments(self, parser):
        parser.add_argument(
            "--rebuild", action="store_true", help="Empty the index and fill it again."
        )

    def handle(self, *args, rebuild, **options):
        if not rebuild:
            raise CommandError(
                "Say --rebuild: it empties the index and fills it again."
            )
        terminal = self.stdout.isatty()

        def progress(done: int, total: int) -> None:
            if terminal:
                width = 30
                filled = width * done // max(total, 1)
                bar = "#" * filled + "-" * (width - filled)
                self.stdout.write(f"\r[{bar}] {done:,}/{total:,}", ending="")
                self.stdout.flush()

        # One transaction: searches meanwhile see the old index, then the new.
        with transaction.atomic():
            count = search.rebuild(progress)
        if terminal:
            self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"{count:,} replies indexed."))
