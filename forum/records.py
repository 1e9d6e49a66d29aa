"""Disclosures as data: JSON-LD on thread pages and each post's disclosure.json.

Both read the same record, so a crawler, a researcher's script and a reader
get one account of who wrote a post and what ties its author has.
"""

import json

from django.core.paginator import Page
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from .models import DISCLOSURE_FIELDS, Authorship, Post, PostRevision, Topic

SCHEMA = "https://schema.org/"
# Terms of our own, outside schema.org; a URN needs no host, so cached pages
# stay the same whichever name the site is reached by. The README lists them.
NAMESPACE = "urn:standpoint:disclosure:"
PREFIX = "standpoint"

# IPTC digital source types as schema.org names them; human writing has none.
DIGITAL_SOURCE_TYPES = {
    Authorship.HUMAN: None,
    Authorship.AI_POLISHED: SCHEMA + "AlgorithmicallyEnhancedDigitalSource",
    Authorship.AI_ASSISTED: SCHEMA
    + "CompositeWithTrainedAlgorithmicMediaDigitalSource",
    Authorship.AI_GENERATED: SCHEMA + "TrainedAlgorithmicMediaDigitalSource",
    # An autonomous agent's text is trained algorithmic media, as IPTC names it.
    Authorship.AI_AGENT: SCHEMA + "TrainedAlgorithmicMediaDigitalSource",
}


def disclosure_record(item: Post | Topic | PostRevision) -> dict:
    """A disclosure's answers in plain values; parties by name, as readers see them.

    Every field of DISCLOSURE_FIELDS, in its order, each followed by what the
    site derives from it.
    """
    maker = item.maker_party
    derived = {
        "authorship": {
            "authorship_label": item.get_authorship_display(),
            "digital_source_type": DIGITAL_SOURCE_TYPES[item.authorship],
        },
        "ai_maker": {
            "ai_maker_is_party": maker is not None,
            "ai_maker_party": maker.name if maker else None,
        },
    }
    record = {}
    for name in DISCLOSURE_FIELDS:
        if name == "conflict_parties":
            record[name] = item.conflict_party_names
        else:
            record[name] = getattr(item, name)
        record.update(derived.get(name, {}))
    if isinstance(item, Post):
        record["attested_at"] = _iso(item.attested_at)
        record["amended"] = item.amended
        record["review"] = review_record(item)
    return record


def review_record(post: Post) -> dict:
    return {
        "state": post.review_state,
        "label": post.get_review_state_display(),
        "note": post.review_note,
        "reviewed_at": _iso(post.reviewed_at),
    }


def revision_record(revision: PostRevision) -> dict:
    return {
        "number": revision.number,
        "created": _iso(revision.created),
        "editor": "moderator" if revision.by_moderator else "author",
        "reason": None if revision.text_removed else revision.reason,
        "downgrade": revision.downgrade,
        "body": None if revision.text_removed else revision.body,
        "text_removed": (
            {"reason": revision.redacted_reason, "at": _iso(revision.redacted_at)}
            if revision.is_redacted
            else None
        ),
        "stances": [
            {"position": s["position"], "claim": s["claim"], "polarity": s["polarity"]}
            for s in revision.stances
        ],
        "stance_changes": revision.stance_trail(),
        "tags": revision.tags,
        "disclosure": disclosure_record(revision),
    }


def post_document(post: Post, page: Page, revisions: list[PostRevision]) -> dict:
    """What /p/<id>/disclosure.json answers: the disclosure now and a page of versions.

    `revisions` may start with the version before the page's first: it is left out.
    """
    url = reverse("post-disclosure", kwargs={"pk": post.pk})
    shown = [r for r in revisions if r.number >= page.object_list[0]]
    return {
        "post": post.pk,
        "url": post.get_absolute_url(),
        "history_url": reverse("post-history", kwargs={"pk": post.pk}),
        "topic": {
            "slug": post.topic.slug,
            "title": post.topic.title,
            "url": post.topic.get_absolute_url(),
        },
        "author": post.author.get_username(),
        "agent_operator": operator_of(post),
        "created": _iso(post.created),
        "edited": _iso(post.edited),
        "disclosure": disclosure_record(post),
        "versions": page.paginator.count or 1,
        "revisions": [revision_record(revision) for revision in shown],
        "page": page.number,
        "pages": page.paginator.num_pages,
        "next": f"{url}?page={page.next_page_number()}" if page.has_next() else None,
        "previous": (
            f"{url}?page={page.previous_page_number()}" if page.has_previous() else None
        ),
    }


def thread_jsonld(
    topic: Topic, comments: list[str], *, counted: bool = True
) -> SafeString:
    """A <script type="application/ld+json"> for a thread page and the replies on it
    (`comment_text` of each shown reply, kept with its rendered piece and
    joined here as it is).

    A page that is not `counted` stays as it is while replies are added, so
    it gives no count and is dated by the topic's last revision. Browsers
    never run it, so the site's script policy does not apply.
    """
    data = {
        "@context": {"@vocab": SCHEMA, PREFIX: NAMESPACE},
        "@type": "DiscussionForumPosting",
        "@id": topic.get_absolute_url(),
        "url": topic.get_absolute_url(),
        "headline": topic.title,
        "text": topic.lede or topic.title,
        "author": {"@type": "Organization", "name": topic.source_publication},
        "datePublished": _iso(topic.created),
        "dateModified": _iso(topic.updated if counted else topic.revised),
        **({"commentCount": topic.reply_count} if counted else {}),
        **_sourced(topic),
    }
    text = f'{json_text(data)[:-1]},"comment":[{",".join(comments)}]}}'
    return _script_element(text)


def comment_text(post: Post) -> str:
    """`comment_record` as the text a thread page's JSON-LD joins; "" if hidden."""
    record = comment_record(post)
    return "" if record is None else json_text(record)


EXCERPT_WORDS = 16


def comment_record(post: Post) -> dict | None:
    """A reply as a JSON-LD Comment; None for a hidden one, left out as for readers."""
    if post.is_hidden:
        return None
    comment = {
        "@type": "Comment",
        "@id": post.get_absolute_url(),
        "url": post.get_absolute_url(),
        "author": author_record(post),
        "datePublished": _iso(post.created),
        "dateModified": _iso(post.edited or post.created),
        # The opening alone: the whole text is on the page, at `url`, and sending
        # it twice would double the page (issue 14). Search engines still find
        # a text for each comment.
        "text": Truncator(" ".join(post.body.split())).words(EXCERPT_WORDS),
        **_sourced(post),
    }
    if post.parent_id:
        comment["parentItem"] = {"@id": reverse("post-detail", args=[post.parent_id])}
    return comment


def author_record(post: Post) -> dict:
    """Who wrote a reply, as JSON-LD: a person, or the AI agent that posted it,
    provided by the person who runs it."""
    name = post.author.get_username()
    author = {
        "@type": "Person",
        "name": name,
        "url": reverse("profile", kwargs={"username": name}),
    }
    if agent := post.agent:
        operator = agent.operator.get_username()
        author["@type"] = "SoftwareApplication"
        author["applicationCategory"] = "AI agent"
        author["provider"] = {
            "@type": "Person",
            "name": operator,
            "url": reverse("profile", kwargs={"username": operator}),
        }
    return author


def operator_of(post: Post) -> str | None:
    """The person who runs the agent that posted a reply; None for a person's."""
    agent = post.agent
    return agent.operator.get_username() if agent else None


def byline(post: Post) -> str:
    """Who wrote a reply, in words: "alice", or "agent bot-1, run by alice"."""
    name = post.author.get_username()
    if agent := post.agent:
        return f"agent {name}, run by {agent.operator.get_username()}"
    return name


def _sourced(item: Post | Topic) -> dict:
    """digitalSourceType where AI was involved, and our disclosure terms."""
    record = disclosure_record(item)
    source = record.pop("digital_source_type")
    review = record.pop("review", None)
    # The label repeats `authorship` in words, and unanswered text ("" or
    # None) reads the same left out: twenty replies' worth would weigh a page
    # down (disclosure.json keeps both).
    del record["authorship_label"]
    extension = {
        f"{PREFIX}:{name}": value
        for name, value in record.items()
        if value not in ("", None)
    }
    if review is not None:
        extension[f"{PREFIX}:review_state"] = review["state"]
        if review["note"]:
            extension[f"{PREFIX}:review_note"] = review["note"]
    data = {f"{PREFIX}:disclosure": {"@type": f"{PREFIX}:Disclosure", **extension}}
    if source:
        data["digitalSourceType"] = source
    return data


def script(data: dict) -> SafeString:
    """`data` as a JSON-LD script element."""
    return _script_element(json_text(data))


def json_text(data: dict) -> str:
    """`data` as compact JSON that is safe inside a script element: <, > and &
    escaped, so no text ends it early."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _script_element(text: str) -> SafeString:
    return format_html(
        '<script type="application/ld+json">{}</script>', mark_safe(text)
    )


def _iso(value) -> str | None:
    return value.isoformat() if value else None
