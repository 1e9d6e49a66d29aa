"""Make every reply's ready piece that is missing or out of date.

Pages make pieces as they show replies, so a running site has them. After a
release that changes what a piece shows (its templates, forum.pieces.FORMAT),
or replies loaded around the services (an import, the benchmark's filler),
every page would render its twenty replies on its first view; this makes them
ahead, in batches, and reports how many.
"""

from django.core.management.base import BaseCommand, CommandError

from forum.models import Post, Topic
from forum.pieces import reply_pieces
from forum.views.threads import thread_topic

BATCH = 200


class Command(BaseCommand):
    help = "Render and store every reply's piece that is missing or out of date."

    def add_arguments(self, parser):
        parser.add_argument("slugs", nargs="*", help="Only these topics.")

    def handle(self, *args, slugs, **options):
        topics = Topic.objects.order_by("pk")
        if slugs:
            topics = topics.filter(slug__in=slugs)
            if missing := sorted(
                set(slugs) - set(topics.values_list("slug", flat=True))
            ):
                raise CommandError(f"No topic with slug {', '.join(missing)}.")
        for slug in topics.values_list("slug", flat=True):
            topic, _ = thread_topic(slug)
            ids = list(topic.posts.order_by("number").values_list("pk", flat=True))
            for start in range(0, len(ids), BATCH):
                # Pieces already current are read, not rendered again.
                reply_pieces(topic, ids[start : start + BATCH], staff=False)
            self.stdout.write(f"{slug}: {len(ids):,} replies' pieces current.")
        self.stdout.write(
            self.style.SUCCESS(f"{Post.objects.count():,} replies in all.")
        )
