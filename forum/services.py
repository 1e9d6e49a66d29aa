"""The rules of Standpoint and every write to topics and posts.

Validators come first: forms call them in `clean()` so people see each problem
next to its field, and the services call them again inside the transaction, so
the admin, the seeder and the shell are held to the same rules as the site.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import (
    Authorship,
    Conflict,
    Paid,
    Party,
    Polarity,
    Position,
    Post,
    PostStance,
    PostStatus,
    Stance,
    Topic,
)

KEYWORD_MAX_LENGTH = 50
KEYWORDS_MAX = 10
MODERATORS_GROUP = "Moderators"
LOCKED_MESSAGE = "This topic is locked: it takes no new replies."
DISCLOSURE_TEXT_FIELDS = (
    "authorship", "ai_model", "ai_maker", "affiliation", "paid", "paid_by",
    "conflict", "conflict_details",
)  # fmt: skip


def validate_disclosure(
    *,
    topic: Topic,
    authorship: str,
    ai_model: str,
    ai_maker: str,
    affiliation: str,
    paid: str,
    paid_by: str,
    conflict: str,
    conflict_parties: Iterable[Party],
    conflict_details: str,
) -> None:
    """Reject a disclosure that leaves out who wrote it, who pays, or whose interest it serves."""
    errors: dict[str, ValidationError] = {}

    def fail(name: str, message: str, code: str) -> None:
        errors.setdefault(name, ValidationError(message, code=code))

    if authorship not in Authorship.values:
        fail("authorship", "Say who wrote this post.", "authorship_required")
    elif authorship == Authorship.HUMAN:
        if ai_model.strip() or ai_maker.strip():
            message = (
                "Leave the AI model and maker empty for a human-written post, "
                "or choose how AI was involved."
            )
            fail(
                "ai_model" if ai_model.strip() else "ai_maker", message, "ai_unexpected"
            )
    else:
        if not ai_model.strip():
            fail(
                "ai_model",
                "Name the AI model you used, e.g. “Claude”.",
                "ai_model_required",
            )
        if not ai_maker.strip():
            fail(
                "ai_maker",
                "Name the company or group that made the AI model, e.g. “Anthropic”.",
                "ai_maker_required",
            )

    if not affiliation.strip():
        fail(
            "affiliation",
            "Give your relevant employer or organisation, or write “none”.",
            "affiliation_required",
        )

    if paid not in Paid.values:
        fail("paid", "Say whether you are paid to post on this.", "paid_required")
    elif paid == Paid.NO and paid_by.strip():
        fail(
            "paid_by",
            "Leave “paid by” empty when you are not paid, or change your answer above.",
            "paid_by_unexpected",
        )
    elif paid != Paid.NO and not paid_by.strip():
        fail(
            "paid_by", "Say who pays you, or will, to post on this.", "paid_by_required"
        )

    parties = list(conflict_parties)
    if conflict not in Conflict.values:
        fail(
            "conflict",
            "Say whether you have a conflict of interest.",
            "conflict_required",
        )
    elif conflict == Conflict.NONE:
        if parties or conflict_details.strip():
            fail(
                "conflict",
                "Choose “declared” to name a conflict, or clear its parties and details.",
                "conflict_unexpected",
            )
    else:
        if not parties:
            fail(
                "conflict_parties",
                "Choose the party or parties your conflict of interest involves.",
                "conflict_parties_required",
            )
        elif any(party.topic_id != topic.pk for party in parties):
            fail(
                "conflict_parties",
                "Choose parties of this topic only.",
                "conflict_party_foreign",
            )
        if not conflict_details.strip():
            fail(
                "conflict_details",
                "Describe the conflict of interest in a sentence or two.",
                "conflict_details_required",
            )

    if errors:
        raise ValidationError(errors)


def validate_stances(*, topic: Topic, stances: Iterable[Stance]) -> None:
    """Reject stances outside the topic's vocabulary; the form, admin and services all call this."""
    stances = list(stances)
    if not stances:
        raise ValidationError(
            {"stances": ValidationError(
                "Choose at least one stance: say where this reply stands.",
                code="stances_required",
            )}
        )  # fmt: skip
    if any(stance.position.topic_id != topic.pk for stance in stances):
        raise ValidationError(
            {"stances": ValidationError(
                "Choose stances on this topic's positions only.", code="stance_foreign"
            )}
        )  # fmt: skip
    seen: dict[int, str] = {}
    for stance in stances:
        if seen.setdefault(stance.position_id, stance.polarity) != stance.polarity:
            raise ValidationError(
                {"stances": ValidationError(
                    "A reply cannot both support and oppose “%(claim)s”.",
                    code="stance_contradiction",
                    params={"claim": stance.position.claim},
                )}
            )  # fmt: skip


def validate_parent(
    *, topic: Topic, parent: Post | None, post: Post | None = None
) -> None:
    """A reply answers a visible post of its own topic, never itself."""
    if parent is None:
        return
    if parent.topic_id != topic.pk:
        message, code = "You can only reply to a post in this topic.", "parent_foreign"
    elif (post is None or post.pk is None) and parent.status != PostStatus.PUBLISHED:
        # A new reply may not answer a hidden post; an existing one keeps its parent.
        message, code = (
            "That post was hidden by moderators; reply to the topic instead.",
            "parent_hidden",
        )
    elif post is not None and parent.pk == post.pk:
        message, code = "A post cannot reply to itself.", "parent_self"
    else:
        return
    raise ValidationError({"parent": ValidationError(message, code=code)})


def validate_keywords(*, names: Sequence[str]) -> None:
    if len(names) > KEYWORDS_MAX:
        raise ValidationError(
            {"tags": ValidationError(
                "Use at most %(max)d keyword tags.", code="tags_too_many",
                params={"max": KEYWORDS_MAX},
            )}
        )  # fmt: skip
    for name in names:
        if len(name) > KEYWORD_MAX_LENGTH:
            raise ValidationError(
                {"tags": ValidationError(
                    "Keep each keyword tag to %(max)d characters (“%(tag)s…” is longer).",
                    code="tag_too_long",
                    params={"max": KEYWORD_MAX_LENGTH, "tag": name[:20]},
                )}
            )  # fmt: skip


def _raise_if_locked(topic: Topic) -> Topic:
    """Re-read the topic inside the write transaction: a lock taken a moment ago holds."""
    topic = Topic.objects.select_for_update().get(pk=topic.pk)
    if topic.is_locked:
        raise ValidationError(LOCKED_MESSAGE, code="topic_locked")
    return topic


@transaction.atomic
def post_create(
    *,
    topic: Topic,
    author: AbstractBaseUser,
    body: str,
    stances: Iterable[Stance],
    tags: Sequence[str] = (),
    parent: Post | None = None,
    authorship: str,
    ai_model: str = "",
    ai_maker: str = "",
    affiliation: str,
    paid: str,
    paid_by: str = "",
    conflict: str,
    conflict_parties: Iterable[Party] = (),
    conflict_details: str = "",
    attested: bool,
) -> Post:
    """Publish a reply once its disclosure is attested and every rule holds."""
    topic = _raise_if_locked(topic)
    if not attested:
        raise ValidationError(
            {"attest": ValidationError(
                "Confirm that your disclosure is complete and accurate.",
                code="attest_required",
            )}
        )  # fmt: skip
    # Each stance once: taggit would store one link, the counts would add two.
    stances, conflict_parties = list(dict.fromkeys(stances)), list(conflict_parties)
    disclosure = {
        "authorship": authorship, "ai_model": ai_model.strip(), "ai_maker": ai_maker.strip(),
        "affiliation": affiliation.strip(), "paid": paid, "paid_by": paid_by.strip(),
        "conflict": conflict, "conflict_details": conflict_details.strip(),
    }  # fmt: skip
    validate_disclosure(topic=topic, conflict_parties=conflict_parties, **disclosure)
    validate_stances(topic=topic, stances=stances)
    validate_parent(topic=topic, parent=parent)
    validate_keywords(names=tags)
    now = timezone.now()
    post = Post(
        topic=topic, author=author, parent=parent, body=body, attested_at=now,
        created=now, **disclosure,
    )  # fmt: skip
    # The validators above just ran, and the database checks the same named
    # constraints on insert: re-running them as queries here would only hold
    # the write lock longer. Related rows were fetched, so skip their lookups.
    post.full_clean(exclude=["topic", "author", "parent"], validate_constraints=False)
    post.save()
    # A new post has no links yet: add() spares set()'s look-ups of old ones.
    if conflict_parties:
        post.conflict_parties.add(*conflict_parties)
    post.stances.add(*stances)
    if tags:
        post.tags.add(*tags)
    _count_new_post(topic=topic, stances=stances, now=now)
    return post


def _count_new_post(*, topic: Topic, stances: list[Stance], now) -> None:
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
    published = Q(status=PostStatus.PUBLISHED)
    replies = (
        Post.objects.filter(published, topic=OuterRef("pk"))
        .values("topic").annotate(n=Count("pk")).values("n")
    )  # fmt: skip
    Topic.objects.filter(pk__in=topic_ids).update(
        reply_count=Coalesce(Subquery(replies), 0), updated=timezone.now()
    )
    counts = {}
    for polarity, name in ((Polarity.SUPPORTS, "support_count"),
                           (Polarity.OPPOSES, "oppose_count")):  # fmt: skip
        links = (
            PostStance.objects.filter(
                tag__position=OuterRef("pk"), tag__polarity=polarity,
                content_object__status=PostStatus.PUBLISHED,
            )
            .values("tag__position").annotate(n=Count("pk")).values("n")
        )  # fmt: skip
        counts[name] = Coalesce(Subquery(links), 0)
    Position.objects.filter(topic_id__in=topic_ids).update(**counts)


@transaction.atomic
def post_update(
    *,
    post: Post,
    stances: Iterable[Stance],
    tags: Sequence[str],
    conflict_parties: Iterable[Party],
) -> Post:
    """Save a moderator's edit of `post` (its fields already set) under the creation rules."""
    stances, conflict_parties = list(stances), list(conflict_parties)
    validate_disclosure(
        topic=post.topic,
        conflict_parties=conflict_parties,
        **{name: getattr(post, name) for name in DISCLOSURE_TEXT_FIELDS},
    )
    validate_stances(topic=post.topic, stances=stances)
    validate_parent(topic=post.topic, parent=post.parent, post=post)
    validate_keywords(names=tags)
    post.edited = timezone.now()
    post.full_clean()
    post.save()
    post.conflict_parties.set(conflict_parties)
    post.stances.set(stances)
    post.tags.set(tags)
    topics_refresh(topic_ids=[post.topic_id])
    return post


@transaction.atomic
def posts_set_status(*, posts: QuerySet[Post], status: str) -> int:
    """Hide or restore posts; a hidden post leaves the thread, the counts and its permalink."""
    changing = posts.exclude(status=status)
    topic_ids = set(changing.values_list("topic_id", flat=True))
    count = Post.objects.filter(
        pk__in=list(changing.values_list("pk", flat=True))
    ).update(status=status)
    topics_refresh(topic_ids=topic_ids)
    return count


def topics_set_flags(*, topics: QuerySet[Topic], **flags: bool) -> int:
    allowed = {"is_locked", "is_pinned"}
    if not flags or set(flags) - allowed:
        raise ValueError(f"Only {sorted(allowed)} can be set.")
    return topics.update(**flags, updated=timezone.now())


def user_make_moderator(*, user: AbstractBaseUser) -> None:
    """Give `user` the admin with the Moderators group's rights, and nothing more."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.groups.add(Group.objects.get(name=MODERATORS_GROUP))


# Seeding ------------------------------------------------------------------


@dataclass(frozen=True)
class PartyData:
    slug: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class PositionData:
    slug: str
    claim: str
    summary: str
    quote: str


@dataclass(frozen=True)
class ArticleData:
    """What a seed file says, checked for shape; `seeding.parse_article` builds it."""

    slug: str
    title: str
    lede: str
    body: str
    source_publication: str
    source_url: str
    source_date: object
    disclosure: dict
    disclosure_statement: str
    conflict_party_slugs: tuple[str, ...]
    parties: tuple[PartyData, ...]
    positions: tuple[PositionData, ...]


@dataclass
class SeedResult:
    topic: Topic
    created: bool
    kept: list[str] = field(default_factory=list)


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
def topic_create_from_article(*, article: ArticleData) -> SeedResult:
    """Create or update the topic keyed on the article's slug; safe to run again."""
    topic = Topic.objects.filter(slug=article.slug).first() or Topic(slug=article.slug)
    created = topic.pk is None
    for name in ("title", "lede", "body", "source_publication", "source_url",
                 "source_date", "disclosure_statement"):  # fmt: skip
        setattr(topic, name, getattr(article, name))
    for name, value in article.disclosure.items():
        setattr(topic, name, value)
    topic.full_clean(exclude=["conflict_parties"])
    topic.save()

    result = SeedResult(topic=topic, created=created)
    parties = {}
    for data in article.parties:
        parties[data.slug], _ = Party.objects.update_or_create(
            topic=topic,
            slug=data.slug,
            defaults={"name": data.name, "aliases": ", ".join(data.aliases)},
        )
    _delete_unused(topic.parties.exclude(slug__in=parties), "post_conflicts", result)
    for order, data in enumerate(article.positions):
        position, _ = Position.objects.update_or_create(
            topic=topic,
            slug=data.slug,
            defaults={
                "claim": data.claim,
                "summary": data.summary,
                "quote": data.quote,
                "order": order,
            },  # fmt: skip
        )
        position_sync_stances(position=position)
    stale = topic.positions.exclude(slug__in=[p.slug for p in article.positions])
    _delete_unused(stale, "stances__post_links", result)

    conflict_parties = [parties[slug] for slug in article.conflict_party_slugs]
    validate_disclosure(
        topic=topic, conflict_parties=conflict_parties, **article.disclosure
    )
    topic.conflict_parties.set(conflict_parties)
    topics_refresh(topic_ids=[topic.pk])
    return result


def _delete_unused(queryset: QuerySet, uses: str, result: SeedResult) -> None:
    """Delete rows a seed no longer names, keeping any a post still refers to."""
    counted = queryset.annotate(uses=Count(uses))
    result.kept += [str(row) for row in counted.filter(uses__gt=0)]
    queryset.model.objects.filter(pk__in=counted.filter(uses=0).values("pk")).delete()


def user_signup(*, username: str, password: str) -> AbstractBaseUser:
    """Create a reader's account; the form has already validated both values."""
    return get_user_model().objects.create_user(username=username, password=password)
