"""Plain builders for test data: valid by default, any field overridable."""

import itertools

from django.contrib.auth import get_user_model

from forum import services
from forum.models import DISCLOSURE_FIELDS, Party, Position, Stance, Topic

_counter = itertools.count(1)

PASSWORD = "correct horse battery staple"

# A complete disclosure of a human-written text with no ties: the valid default.
HUMAN_DISCLOSURE = {
    "authorship": "human",
    "ai_model": "",
    "ai_maker": "",
    "affiliation": "none",
    "paid": "no",
    "paid_by": "",
    "conflict": "none",
    "conflict_details": "",
}


def make_user(**overrides):
    n = next(_counter)
    overrides.setdefault("username", f"reader{n}")
    password = overrides.pop("password", PASSWORD)
    return get_user_model().objects.create_user(password=password, **overrides)


def make_topic(**overrides):
    """A topic with a human-written article, two parties and two positions."""
    n = next(_counter)
    overrides.setdefault("title", f"Topic {n}")
    overrides.setdefault("slug", f"topic-{n}")
    overrides.setdefault("body", "The article.\n\nIts second paragraph.")
    overrides.setdefault("source_publication", "The Test Gazette")
    overrides = {**HUMAN_DISCLOSURE, **overrides}
    topic = Topic.objects.create(**overrides)
    Party.objects.create(
        topic=topic, name="Anthropic", slug="anthropic", aliases="Anthropic PBC"
    )
    Party.objects.create(topic=topic, name="US government", slug="us-government")
    for order, (slug, claim) in enumerate(
        [
            ("ban-endangers-defenders", "The ban endangers defenders"),
            ("ban-is-justified", "The ban is justified"),
        ]
    ):
        position = Position.objects.create(
            topic=topic, slug=slug, claim=claim, order=order
        )
        services.position_sync_stances(position=position)
    return topic


def stance(topic, slug="supports-ban-endangers-defenders"):
    """The topic's stance with `slug`, e.g. "opposes-ban-is-justified"."""
    return Stance.objects.get(position__topic=topic, slug=slug)


def disclosure(**answers):
    """A complete human-written disclosure with no ties, with `answers` changed."""
    return services.DisclosureAnswers(**{**HUMAN_DISCLOSURE, **answers})


def with_disclosure(arguments: dict, current: dict | None = None) -> dict:
    """`arguments` with its disclosure answers gathered into `disclosure=`.

    Answers not given come from `current`, or make a human-written disclosure;
    a `disclosure=` given whole is kept as it is.
    """
    arguments = dict(arguments)
    if "disclosure" in arguments:
        return arguments
    answers = {
        name: arguments.pop(name) for name in DISCLOSURE_FIELDS if name in arguments
    }
    arguments["disclosure"] = disclosure(**{**(current or {}), **answers})
    return arguments


def make_post(**overrides):
    """A reply made through `services.post_create`, the only way posts are made."""
    if "topic" not in overrides:
        overrides["topic"] = make_topic()
    topic = overrides["topic"]
    if "author" not in overrides:
        overrides["author"] = make_user()
    if "stances" not in overrides:
        overrides["stances"] = [stance(topic)]
    overrides.setdefault("body", "I have *views* on this.")
    overrides.setdefault("attested", True)
    return services.post_create(**with_disclosure(overrides))


def edit_post(post, *, editor=None, **changes):
    """Edit `post` through `services.post_edit`: its current values, with `changes`.

    By default its author edits and re-attests; pass a moderator as `editor`
    (and a `reason`) for a moderator's edit.
    """
    post = type(post).objects.get(pk=post.pk)
    current = {name: getattr(post, name) for name in HUMAN_DISCLOSURE}
    current["conflict_parties"] = list(post.conflict_parties.all())
    arguments = {
        "body": post.body,
        "stances": list(post.stances.select_related("position")),
        "tags": list(post.tags.names()),
    }
    editor = editor or post.author
    if editor.pk == post.author_id:
        arguments["attested"] = True
    arguments = with_disclosure({**arguments, **changes}, current)
    return services.post_edit(post=post, editor=editor, **arguments)


def error_codes(excinfo) -> dict[str, list[str]]:
    """The codes of a raised ValidationError, by field: what a caller tells apart."""
    errors = excinfo.value.error_dict
    return {field: [error.code for error in errors[field]] for field in errors}
