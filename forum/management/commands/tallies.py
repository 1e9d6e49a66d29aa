"""Count every topic's replies again and compare them with the stored tallies.

The services keep the tallies by difference in each writing transaction; this
is the proof, and the repair when something wrote around them (a manual
UPDATE, a restored backup of one table).
"""

from django.core.management.base import BaseCommand, CommandError

from forum.models import Topic
from forum.services import tallies_recount


class Command(BaseCommand):
    help = (
        "Recount the stance map's tallies and the topics' reply counts, report any "
        "drift and store the recount (--check: report only, exit 1 on drift)."
    )

    def add_arguments(self, parser):
        parser.add_argument("slugs", nargs="*", help="Only these topics.")
        parser.add_argument(
            "--check",
            action="store_true",
            help="Change nothing; exit with status 1 if any count has drifted.",
        )

    def handle(self, *args, slugs, check, **options):
        topic_ids = None
        if slugs:
            found = dict(Topic.objects.filter(slug__in=slugs).values_list("slug", "pk"))
            if missing := sorted(set(slugs) - set(found)):
                raise CommandError(f"No topic with slug {', '.join(missing)}.")
            topic_ids = list(found.values())
        drift = tallies_recount(topic_ids=topic_ids, fix=not check)
        for line in drift:
            self.stdout.write(line)
        if not drift:
            self.stdout.write(self.style.SUCCESS("Every tally matches a recount."))
        elif check:
            raise CommandError(
                f"{len(drift)} counts have drifted; run without --check."
            )
        else:
            self.stdout.write(self.style.SUCCESS(f"Fixed {len(drift)} counts."))
