"""The debate as data: one record per reply, topic and moderation action.

The read API (forum.api) answers these records and the exports (forum.exports)
write them, so a script that reads either gets the same account, and the same
privacy as the pages: a hidden reply is a tombstone with its public reason, an
earlier version's removed text is never here (only the current text is), and
nothing appears that the pages do not show.
"""

from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from django.conf import settings
from django.db.models import OuterRef, Subquery, Sum
from django.urls import reverse

from .models import (
    Authorship,
    Conflict,
    ModerationAction,
    Paid,
    Party,
    Position,
    Post,
    PostKeyword,
    PostRevision,
    PostStance,
    ReviewState,
    Stance,
    StanceTally,
    Topic,
)
from .records import disclosure_record, operator_of

try:
    SITE_VERSION = package_version("standpoint")
except PackageNotFoundError:  # run from a checkout that was never installed
    SITE_VERSION = "0.0.0"


def licence() -> dict:
    """The licence replies are published under, as a Data Package names it."""
    return settings.STANDPOINT_DATA_LICENSE


def posts_for_records(posts):
    """`posts` with their authors and edit counts: the rows post_record reads;
    `attach` then adds what each links to."""
    last_version = (
        PostRevision.objects.filter(post=OuterRef("pk"))
        .order_by("-number")
        .values("number")[:1]
    )
    return posts.select_related("author__agent__operator").annotate(
        last_version=Subquery(last_version)
    )


def with_links(posts: list[Post]) -> list[Post]:
    """Give `posts` (their topics loaded) their stances, the parties their
    disclosures name and their topics' parties (the maker-is-a-party flag
    reads them), in three queries however many posts and topics, as
    `post.stances.all()`, `post.conflict_parties.all()` and
    `post.topic.parties.all()` answer them.

    Plain lists rather than prefetch_related: a prefetch builds a related
    manager and a filtered queryset for every post, which cost more than the
    queries themselves on a page of a hundred replies or an export.
    """
    ids = [post.pk for post in posts]
    stances, tied = defaultdict(list), defaultdict(list)
    # One Stance (and Position) object per stance, not per link: an export
    # has a hundred thousand links and a dozen stances.
    made: dict[int, Stance] = {}
    for (
        pk,
        tag,
        slug,
        name,
        polarity,
        position,
        position_slug,
        order,
    ) in PostStance.objects.filter(content_object_id__in=ids).values_list(
        "content_object_id",
        "tag_id",
        "tag__slug",
        "tag__name",
        "tag__polarity",
        "tag__position_id",
        "tag__position__slug",
        "tag__position__order",
    ):
        if tag not in made:
            made[tag] = Stance(id=tag, slug=slug, name=name, polarity=polarity)
            made[tag].position = Position(id=position, slug=position_slug, order=order)
        stances[pk].append(made[tag])
    topics = {post.topic_id: post.topic for post in posts}
    unloaded = [
        topic
        for topic in topics.values()
        if "parties" not in getattr(topic, "_prefetched_objects_cache", {})
    ]
    if unloaded:
        found = defaultdict(list)
        for party in Party.objects.filter(topic__in=unloaded):
            found[party.topic_id].append(party)
        for topic in unloaded:
            topic._prefetched_objects_cache = {
                **getattr(topic, "_prefetched_objects_cache", {}),
                "parties": Loaded(found[topic.pk]),
            }
    named = {p.pk: p for topic in topics.values() for p in topic.parties.all()}
    links = Post.conflict_parties.through.objects.filter(post_id__in=ids)
    for pk, party in links.values_list("post_id", "party_id"):
        tied[pk].append(named[party])
    for post in posts:
        post.topic = topics[post.topic_id]
        order = sorted(
            stances[post.pk],
            key=lambda s: (s.position.order, s.position_id, s.polarity),
        )
        post._prefetched_objects_cache = {
            "stances": order,
            "conflict_parties": Loaded(sorted(tied[post.pk], key=lambda p: p.name)),
        }
    return posts


def attach(posts: list[Post], topic: Topic) -> list[Post]:
    """`posts` of `topic` ready for post_record: `with_links`, and their
    keywords (one more query)."""
    for post in posts:
        post.topic = topic
    with_links(posts)
    tags = defaultdict(list)
    keywords = PostKeyword.objects.filter(content_object_id__in=[p.pk for p in posts])
    for pk, name in keywords.values_list("content_object_id", "tag__name"):
        tags[pk].append(name)
    for post in posts:
        post.record_tags = sorted(tags[post.pk], key=str.casefold)
    return posts


class Loaded(list):
    """What a prefetch leaves: answers `.all()` with no query."""

    def all(self):
        return self


def reply_record(post_id: int, topic: Topic) -> dict | None:
    """Reply `post_id` of `topic` as data, or None if there is no such reply."""
    found = list(posts_for_records(Post.objects.filter(pk=post_id)))
    return post_record(attach(found, topic)[0]) if found else None


def post_record(post: Post) -> dict:
    """A reply as data, from posts_for_records and `attach`. A hidden reply
    keeps its place and its public reason, and nothing else, as in the thread."""
    topic = post.topic
    record = {
        "id": post.pk,
        "number": post.number,
        "topic": topic.slug,
        "url": post_url("post-detail", post.pk),
        "hidden": post.is_hidden,
        "hidden_reason": post.hidden_reason if post.is_hidden else None,
    }
    if post.is_hidden:
        return record | dict.fromkeys(POST_CONTENT_KEYS) | {"stances": [], "tags": []}
    record |= _content(post)
    return {key: record[key] for key in POST_RECORD_KEYS}


def _content(post: Post) -> dict:
    return {
        "author": post.author.get_username(),
        "agent_operator": operator_of(post),
        "created": _iso(post.created),
        "edited": _iso(post.edited),
        "edit_count": max((post.last_version or 1) - 1, 0),
        "parent": post.parent_id,
        "passage": post.passage,
        "body": post.body,
        "body_html": post.body_html,
        "stances": [
            {
                "stance": stance.slug,
                "position": stance.position.slug,
                "polarity": stance.polarity,
            }
            for stance in post.stances.all()
        ],
        "tags": post.record_tags,
        "disclosure": disclosure_record(post),
        "history_url": post_url("post-history", post.pk),
        "disclosure_url": post_url("post-disclosure", post.pk),
    }


@cache
def _url_pattern(name: str) -> str:
    return reverse(name, args=[0]).replace("/0/", "/{}/")


def post_url(name: str, pk: int) -> str:
    """reverse(name, args=[pk]), without resolving it again for every reply."""
    return _url_pattern(name).format(pk)


# What a tombstone leaves empty: everything but its place and its reason.
POST_CONTENT_KEYS = (
    "author",
    "agent_operator",
    "created",
    "edited",
    "edit_count",
    "parent",
    "passage",
    "body",
    "body_html",
    "disclosure",
    "history_url",
    "disclosure_url",
)


# A post record's keys, in order.
POST_RECORD_KEYS = (
    "id",
    "number",
    "topic",
    "url",
    "hidden",
    "hidden_reason",
    *POST_CONTENT_KEYS,
    "stances",
    "tags",
)


def topic_records(topics: list[Topic]) -> list[dict]:
    """Topics with their article's disclosure, parties, positions and stored
    counts; positions and parties prefetched, the counts read in one query."""
    counts = {
        (row["position_id"], row["polarity"]): row["n"]
        for row in StanceTally.objects.filter(topic__in=topics)
        .values("position_id", "polarity")
        .annotate(n=Sum("count"))
    }
    return [_topic_record(topic, counts) for topic in topics]


def _topic_record(topic: Topic, counts: dict) -> dict:
    return {
        "slug": topic.slug,
        "title": topic.title,
        "url": topic.get_absolute_url(),
        "lede": topic.lede,
        "source": {
            "publication": topic.source_publication,
            "url": topic.source_url or None,
            "date": topic.source_date.isoformat() if topic.source_date else None,
        },
        "disclosure_statement": topic.disclosure_statement,
        "disclosure": disclosure_record(topic),
        "created": _iso(topic.created),
        "updated": _iso(topic.updated),
        "locked": topic.is_locked,
        "pinned": topic.is_pinned,
        "replies": topic.reply_count,
        "hidden_replies": topic.hidden_count,
        "parties": [
            {"slug": party.slug, "name": party.name, "aliases": party.aliases}
            for party in topic.parties.all()
        ],
        "positions": [
            {
                "slug": position.slug,
                "claim": position.claim,
                "summary": position.summary,
                "quote": position.quote,
                "supports": {
                    "stance": position.supports_slug,
                    "replies": counts.get((position.pk, "supports"), 0),
                },
                "opposes": {
                    "stance": position.opposes_slug,
                    "replies": counts.get((position.pk, "opposes"), 0),
                },
            }
            for position in topic.positions.all()
        ],
        "posts_url": reverse("api-1:topic_posts", args=[topic.slug]),
        "data_url": reverse("data-package", args=[topic.slug]),
    }


def moderation_actions(actions) -> list[dict]:
    """Moderation log entries as the log page shows them."""
    show_moderators = settings.STANDPOINT_LOG_SHOWS_MODERATORS
    return [moderation_record(action, show_moderators) for action in actions]


def moderation_record(action: ModerationAction, show_moderators: bool) -> dict:
    if action.actor_id is None:
        actor = "site"
    else:
        actor = action.actor.get_username() if show_moderators else "moderator"
    suspension = action.suspension
    proposal = action.proposal
    agent = (
        action.agent
        if action.agent_id
        else (action.post.agent if action.post_id else None)
    )
    return {
        "id": action.pk,
        "created": _iso(action.created),
        "action": action.action,
        "label": action.get_action_display(),
        "actor": actor,
        "reason": action.reason,
        "topic": action.topic.slug if action.topic_id else None,
        "post": action.post_id,
        "suspended_user": suspension.user.get_username() if suspension else None,
        "suspended_until": (
            _iso(suspension.until)
            if suspension and action.action == "suspend"
            else None
        ),
        # The agent acted on, or the one that posted the reply acted on.
        "agent": agent.name if agent else None,
        "agent_operator": agent.operator.get_username() if agent else None,
        # The log names an approved claim; a rejected one stays unnamed.
        "position_claim": (
            proposal.claim if proposal and action.action == "approve_position" else None
        ),
    }


def _one_of(choices) -> str:
    values = choices.values
    return ", ".join(values[:-1]) + " or " + values[-1]


@dataclass(frozen=True)
class Field:
    """One column of an export, as the data dictionary describes it."""

    name: str
    type: str  # a Frictionless Table Schema type
    description: str


# posts.csv, in order: posts.jsonl's record flattened. Lists are joined with
# "; ", a missing value is an empty cell, booleans are true/false.
POST_FIELDS = (
    Field("id", "integer", "The reply's id; its page is /p/<id>/."),
    Field("number", "integer", "Its place in the thread, from 1."),
    Field("topic", "string", "The topic's slug."),
    Field("url", "string", "The reply's permanent address on the site."),
    Field(
        "hidden", "boolean", "Hidden by moderators: only its place and reason remain."
    ),
    Field("hidden_reason", "string", "The moderators' public reason, when hidden."),
    Field(
        "author",
        "string",
        "The author's username (an AI agent's name, for its replies).",
    ),
    Field(
        "agent_operator",
        "string",
        "For a reply an AI agent posted (authorship ai_agent), the username of the "
        "person who runs it and answers for it; empty for people's replies.",
    ),
    Field("created", "datetime", "When it was posted (UTC, ISO 8601)."),
    Field("edited", "datetime", "When it was last edited, if ever."),
    Field("edit_count", "integer", "How many times it was edited."),
    Field("parent", "integer", "The id of the reply it answers, if any."),
    Field("passage", "integer", "The article paragraph it answers, if any."),
    Field("body", "string", "Its text, in markdown, as written (or last edited)."),
    Field(
        "stances",
        "string",
        "Its stances, as `polarity:position` (supports or opposes), separated by '; '.",
    ),
    Field("tags", "string", "Its free keyword tags, separated by '; '."),
    Field("authorship", "string", f"How it was written: {_one_of(Authorship)}."),
    Field("authorship_label", "string", "The same in words, as the site shows it."),
    Field(
        "digital_source_type",
        "string",
        "The IPTC digital source type (schema.org) for AI involvement; empty for human writing.",
    ),
    Field("ai_model", "string", "The AI model used, if any."),
    Field("ai_maker", "string", "The AI model's maker, as declared."),
    Field(
        "ai_maker_is_party",
        "boolean",
        "Whether the model's maker is one of the debate's parties (derived, never typed).",
    ),
    Field("ai_maker_party", "string", "That party's name, when it is one."),
    Field("affiliation", "string", "The author's declared affiliation."),
    Field("paid", "string", f"Paid to post: {_one_of(Paid)}."),
    Field("paid_by", "string", "Who pays, when paid."),
    Field("conflict", "string", f"Declared conflict of interest: {_one_of(Conflict)}."),
    Field(
        "conflict_parties",
        "string",
        "Parties of this debate the author declared ties to, separated by '; '.",
    ),
    Field("conflict_details", "string", "The conflict, in the author's words."),
    Field("attested_at", "datetime", "When the author attested the disclosure."),
    Field("amended", "boolean", "An edit after publication declared less than before."),
    Field(
        "review_state",
        "string",
        f"Moderators' review of the disclosure: {_one_of(ReviewState)}.",
    ),
    Field("review_label", "string", "The review state in words."),
    Field("review_note", "string", "The moderators' public note on their review."),
    Field("reviewed_at", "datetime", "When moderators reviewed it."),
    Field(
        "history_url",
        "string",
        "Every version of the reply, with what each edit changed.",
    ),
    Field("disclosure_url", "string", "Its disclosure and versions as JSON."),
)

# posts.jsonl holds the same record as the API's posts: body_html, the
# sanitised HTML the site shows, and the disclosure as an object.
JSONL_EXTRA_FIELDS = (
    Field(
        "body_html",
        "string",
        "posts.jsonl only: the text as the site shows it, sanitised HTML.",
    ),
)


def post_row(record: dict) -> list:
    """posts.csv's cells for one post_record, in POST_FIELDS' order."""
    disclosure = record["disclosure"] or {}
    review = disclosure.get("review") or {}
    flat = {
        **{key: record[key] for key in POST_CONTENT_KEYS if key != "disclosure"},
        **{key: value for key, value in disclosure.items() if key != "review"},
        "id": record["id"],
        "number": record["number"],
        "topic": record["topic"],
        "url": record["url"],
        "hidden": record["hidden"],
        "hidden_reason": record["hidden_reason"],
        "stances": "; ".join(
            f"{s['polarity']}:{s['position']}" for s in record["stances"]
        ),
        "tags": "; ".join(record["tags"]),
        "conflict_parties": "; ".join(disclosure.get("conflict_parties") or []),
        "review_state": review.get("state"),
        "review_label": review.get("label"),
        "review_note": review.get("note"),
        "reviewed_at": review.get("reviewed_at"),
    }
    return [cell(flat.get(field.name)) for field in POST_FIELDS]


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _iso(value) -> str | None:
    return value.isoformat() if value else None
