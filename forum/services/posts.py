"""Publishing a reply: every rule checked again under the topic's lock, then stored and counted."""

import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from taggit.models import Tag

from .. import search
from ..models import Post, Stance, Topic
from . import tallies
from .disclosure import DisclosureAnswers
from .guards import require_not_suspended, topic_open
from .notifications import later
from .validation import (
    validate_attested,
    validate_body,
    validate_disclosure,
    validate_keywords,
    validate_parent,
    validate_passage,
    validate_stances,
)


class DuplicatePost(ValidationError):
    """The author posted this same text a moment ago: `post` is that reply."""

    def __init__(self, post: Post):
        super().__init__(
            "You posted this same text at %(time)s (#%(post)d); it was not posted again.",
            code="duplicate",
            params={"post": post.pk, "time": f"{post.created:%H:%M} UTC"},
        )
        self.post = post


@transaction.atomic
def post_create(
    *,
    topic: Topic,
    author: AbstractBaseUser,
    body: str,
    stances: Iterable[Stance],
    disclosure: DisclosureAnswers,
    attested: bool,
    tags: Sequence[str] = (),
    parent: Post | None = None,
    passage: int | None = None,
    admit: Callable[[], None] | None = None,
) -> Post:
    """Publish a reply once its disclosure is attested and every rule holds.

    `admit()` runs under the topic's lock once the reply is known to be new,
    just before it is stored: flood control counts it there, and may refuse.
    """
    topic = topic_open(topic)
    require_not_suspended(author)
    validate_attested(attested)
    validate_body(body)
    # Each stance once: taggit would store one link, the counts would add two.
    stances = list(dict.fromkeys(stances))
    validate_disclosure(topic=topic, disclosure=disclosure, author=author)
    validate_reply(topic=topic, stances=stances, parent=parent, passage=passage)
    tags = keywords_as_spelled(tags)
    validate_keywords(names=tags)
    now = timezone.now()
    # Under the topic's lock a double-submitted form sees its twin committed.
    if earlier := post_find_duplicate(author=author, body=body, now=now):
        raise DuplicatePost(earlier)
    if admit is not None:
        admit()
    post = Post(topic=topic, author=author, parent=parent, passage=passage)
    post.body, post.attested_at, post.created = body, now, now
    # Next in the thread: the topic's lock keeps two writers from one number.
    post.number = (topic.posts.aggregate(last=Max("number"))["last"] or 0) + 1
    disclosure.apply_to(post)
    # The validators above just ran, and the database checks the same named
    # constraints on insert: re-running them as queries here would only hold
    # the write lock longer. Related rows were fetched, so skip their lookups.
    post.full_clean(exclude=["topic", "author", "parent"], validate_constraints=False)
    post.save()
    # A new post has no links yet: add() spares set()'s look-ups of old ones.
    if disclosure.conflict_parties:
        post.conflict_parties.add(*disclosure.conflict_parties)
    post.stances.add(*stances)
    if tags:
        post.tags.add(*tags)
    created = tallies.Snapshot.of_new(
        post, stances, has_party=bool(disclosure.conflict_parties)
    )
    tallies.tallies_apply(tallies.Snapshot(), created, now=now, appended=True)
    search.reindex([post.pk])
    later("reply_published", post.pk)
    return post


def validate_reply(
    *, topic: Topic, stances: list[Stance], parent: Post | None, passage: int | None
) -> None:
    """Where a new reply stands and what it answers, in its topic."""
    validate_stances(topic=topic, stances=stances)
    validate_parent(topic=topic, parent=parent)
    validate_passage(topic=topic, passage=passage)


def keywords_as_spelled(names: Iterable[str]) -> list[str]:
    """`names` in Unicode's compatibility form (NFKC), once each, spelled like the
    keyword tag each already is, so one word is one tag however it was typed.

    Composed and decomposed accents, full-width letters and case variants are
    one tag (the oldest spelling wins). They are matched here in Python, on the
    NFKC case fold: taggit matches case-insensitively in SQL, where PostgreSQL
    folds case by its locale and SQLite folds ASCII only.
    """
    names = [unicodedata.normalize("NFKC", name).strip() for name in names]
    names = [name for name in names if name]
    # Candidates by slug, which taggit makes NFKC and lowercase, numbering a
    # clash ("_1"). The case fold's slug also finds "strasse" for "Straße"
    # (not the reverse: the key is not stored, so a fold that changes the
    # slug is matched one way only).
    slugs = {Tag().slugify(n) for name in names for n in (name, _keyword_key(name))}
    near = Q()
    for slug in filter(None, slugs):
        near |= Q(slug=slug) | Q(slug__startswith=f"{slug}_")
    known = {}
    if near:
        known = {
            _keyword_key(tag.name): tag.name
            for tag in Tag.objects.filter(near).order_by("-pk")
        }
    spelled = {}
    for name in names:
        key = _keyword_key(name)
        spelled.setdefault(key, known.get(key, name))
    return list(spelled.values())


def _keyword_key(name: str) -> str:
    """What two spellings of one keyword share: NFKC case folded (NFKC_Casefold, nearly)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def post_find_duplicate(
    *, author: AbstractBaseUser, body: str, now: datetime
) -> Post | None:
    """The author's post with this exact body from the last duplicate window, if any."""
    since = now - timedelta(seconds=settings.STANDPOINT_DUPLICATE_SECONDS)
    recent = Post.objects.filter(author=author, body=body, created__gte=since)
    return recent.order_by("-created").first()
