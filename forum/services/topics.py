"""Topics, their parties and positions, and the counts pages read instead of counting.

`reply_count`, `hidden_count` and each position's support and opposition are
kept here in the writing transaction, and `updated` moves with every change a
reader could see: it versions every cached page of the topic (forum.caching).
"""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Count, F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..models import (
    Party,
    Polarity,
    Position,
    Post,
    PostStance,
    PostStatus,
    Stance,
    Topic,
)
from .disclosure import DisclosureAnswers
from .validation import (
    validate_disclosure,
    validate_party_removal,
    validate_topic_part,
)


def count_new_post(*, topic: Topic, stances: list[Stance], now) -> None:
    """Add one published reply to the stored counts, in the creating transaction."""
    Topic.objects.filter(pk=topic.pk).update(
        reply_count=F("reply_count") + 1, updated=now
    )
    for stance in stances:
        name = (
            "support_count" if stance.polarity == Polarity.SUPPORTS else "oppose_count"
        )
        Position.objects.filter(pk=stance.position_id).update(**{name: F(name) + 1})


@transaction.atomic
def topics_refresh(*, topic_ids: Iterable[int]) -> None:
    """Recount replies and stances of these topics and mark them changed.

    For the rare writes (moderation, edits, seeding); creating a post adds one.
    """
    # Lock the topics first: on PostgreSQL a recount that waited for a reply's
    # lock would otherwise count from before it and undo its +1.
    topic_ids = list(
        Topic.objects.select_for_update()
        .filter(pk__in=list(topic_ids))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    Topic.objects.filter(pk__in=topic_ids).update(
        reply_count=_posts_counted(PostStatus.PUBLISHED),
        hidden_count=_posts_counted(PostStatus.HIDDEN),
        updated=timezone.now(),
    )
    Position.objects.filter(topic_id__in=topic_ids).update(
        support_count=_stances_counted(Polarity.SUPPORTS),
        oppose_count=_stances_counted(Polarity.OPPOSES),
    )


def _posts_counted(status: str) -> Coalesce:
    """A topic's posts in `status`, as a subquery for Topic.update()."""
    posts = (
        Post.objects.filter(status=status, topic=OuterRef("pk"))
        .values("topic")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(posts), 0)


def _stances_counted(polarity: str) -> Coalesce:
    """A position's published replies taking `polarity`, for Position.update()."""
    links = (
        PostStance.objects.filter(
            tag__position=OuterRef("pk"),
            tag__polarity=polarity,
            content_object__status=PostStatus.PUBLISHED,
        )
        .values("tag__position")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(links), 0)


def position_sync_stances(*, position: Position) -> None:
    """Give `position` exactly its two stances, named after its current claim."""
    for polarity in Polarity.values:
        Stance.objects.update_or_create(
            position=position,
            polarity=polarity,
            defaults={
                "slug": Stance.slug_for(position, polarity),
                "name": Stance.name_for(position, polarity),
            },
        )


@transaction.atomic
def topic_save(*, topic: Topic, disclosure: DisclosureAnswers) -> Topic:
    """Store a moderator's change to a topic and its article's disclosure.

    The article is held to the rules every post meets. Lock and pin are not
    changed here: they are logged actions (moderation.topics_set_flag).
    """
    validate_disclosure(topic=topic, disclosure=disclosure)
    disclosure.apply_to(topic)
    topic.full_clean(exclude=["conflict_parties"])
    topic.save()
    topic.conflict_parties.set(disclosure.conflict_parties)
    return topic


@transaction.atomic
def topic_save_parts(
    *,
    topic: Topic,
    saved: Iterable[Party | Position],
    deleted: Iterable[Party | Position],
) -> None:
    """Store a topic's changed parties and positions and delete removed ones.

    Each position keeps its two stances; a party a declared conflict names is
    kept (validation.validate_party_removal); no name or claim may hold
    direction controls. The counts are taken again.
    """
    for part in deleted:
        if isinstance(part, Party):
            validate_party_removal(party=part)
        part.delete()
    for part in saved:
        validate_topic_part(part=part)
        part.topic = topic
        part.full_clean(exclude=["topic"])
        part.save()
        if isinstance(part, Position):
            position_sync_stances(position=part)
    topics_refresh(topic_ids=[topic.pk])
