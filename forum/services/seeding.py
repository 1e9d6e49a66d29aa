"""Writing a parsed article (forum.seeding) as a topic, atomically and idempotently."""

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, QuerySet

from ..models import Party, Position, Topic
from ..seeding import ArticleData
from .disclosure import DisclosureAnswers
from .tallies import topics_touch
from .topics import position_sync_stances
from .validation import validate_disclosure


@dataclass
class SeedResult:
    topic: Topic
    created: bool
    kept: list[str] = field(default_factory=list)


@transaction.atomic
def topic_create_from_article(*, article: ArticleData) -> SeedResult:
    """Create or update the topic keyed on the article's slug; safe to run again."""
    topic = Topic.objects.filter(slug=article.slug).first() or Topic(slug=article.slug)
    result = SeedResult(topic=topic, created=topic.pk is None)
    for name in (
        "title",
        "lede",
        "body",
        "source_publication",
        "source_url",
        "source_date",
        "disclosure_statement",
    ):
        setattr(topic, name, getattr(article, name))
    DisclosureAnswers(**article.disclosure).apply_to(topic)
    topic.full_clean(exclude=["conflict_parties"])
    topic.save()

    parties = _sync_parties(topic, article, result)
    _sync_positions(topic, article, result)
    disclosure = DisclosureAnswers(
        **article.disclosure,
        conflict_parties=[parties[slug] for slug in article.conflict_party_slugs],
    )
    validate_disclosure(topic=topic, disclosure=disclosure)
    topic.conflict_parties.set(disclosure.conflict_parties)
    topics_touch(topic_ids=[topic.pk])
    return result


def _sync_parties(topic: Topic, article: ArticleData, result: SeedResult) -> dict:
    """The article's parties by slug, created or updated; others go unless in use."""
    parties = {}
    for data in article.parties:
        parties[data.slug], _ = Party.objects.update_or_create(
            topic=topic,
            slug=data.slug,
            defaults={"name": data.name, "aliases": ", ".join(data.aliases)},
        )
    _delete_unused(topic.parties.exclude(slug__in=parties), "post_conflicts", result)
    return parties


def _sync_positions(topic: Topic, article: ArticleData, result: SeedResult) -> None:
    """The article's positions in its order, each with its two stances."""
    for order, data in enumerate(article.positions):
        position, _ = Position.objects.update_or_create(
            topic=topic,
            slug=data.slug,
            defaults={
                "claim": data.claim,
                "summary": data.summary,
                "quote": data.quote,
                "order": order,
            },
        )
        position_sync_stances(position=position)
    # Positions readers proposed were never in the file: only moderators remove them.
    stale = topic.positions.filter(proposal__isnull=True).exclude(
        slug__in=[p.slug for p in article.positions]
    )
    _delete_unused(stale, "stances__post_links", result)


def _delete_unused(queryset: QuerySet, uses: str, result: SeedResult) -> None:
    """Delete rows a seed no longer names, keeping any a post still refers to."""
    counted = queryset.annotate(uses=Count(uses))
    result.kept += [str(row) for row in counted.filter(uses__gt=0)]
    queryset.model.objects.filter(pk__in=counted.filter(uses=0).values("pk")).delete()
