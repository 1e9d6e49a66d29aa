"""Topics, their parties and positions, as moderators change them.

The counts pages read are kept by forum.services.tallies.
"""

from collections.abc import Iterable

from django.db import transaction

from ..models import Party, Polarity, Position, Stance, Topic
from .disclosure import DisclosureAnswers
from .tallies import topics_touch
from .validation import (
    validate_disclosure,
    validate_party_removal,
    validate_topic_part,
)


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
    topics_touch(topic_ids=[topic.pk])  # every cached page of it shows its parts
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
    direction controls. A position with replies cannot be deleted (its
    stances are protected), so no reply changes segment here.
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
    topics_touch(topic_ids=[topic.pk])
