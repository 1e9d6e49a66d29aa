"""No page shows template syntax: every kind of page, rendered over HTTP.

Django's `{# … #}` comment ends at the end of its line: one spread over several
lines is not a comment but text, printed on the page. A tag or variable with a
typo in its braces is printed too. So each page type below is fetched as a
browser would, with data that takes its templates down their branches (edited,
hidden, disputed, AI-written and tied replies, suspensions, proposals, a locked
topic), and its HTML must hold none of `{#`, `#}`, `{%` or `{{`. The data
typed in holds none of them either, so any found come from a template.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import OperationalError, models
from django.test import Client
from django.utils import timezone

from forum import services
from forum.models import PositionProposal, Post, PostStatus, Topic

from .conftest import CsrfClient
from .factories import PASSWORD, disclosure, edit_post, make_post, make_topic, make_user
from .factories import stance as stance_of
from .pages import reply_data, reply_url, signed_in, squash

MARKERS = ("{#", "#}", "{%", "{{")
ENDANGERS = "supports-ban-endangers-defenders"
JUSTIFIED = "opposes-ban-is-justified"


def leaks(html: str, around: int = 80) -> list[str]:
    """Each template marker in `html`, shown with the text around it."""
    found = []
    for marker in MARKERS:
        start = html.find(marker)
        while start != -1:
            before = html[max(0, start - around) : start]
            after = html[start + len(marker) : start + len(marker) + around]
            found.append(f"{marker!r} at {start}: …{before}⟦{marker}⟧{after}…")
            start = html.find(marker, start + 1)
    return found


def test_leaks_finds_each_marker_with_its_surroundings():
    html = "<p>fine</p>\n{# a comment\nthat spans lines #}\n<p>{{ name }} {% if %}</p>"

    found = leaks(html, around=6)

    assert [line.split(" at ")[0] for line in found] == ["'{#'", "'#}'", "'{%'", "'{{'"]
    assert "…e</p>\n⟦{#⟧ a com…" in found[0]
    assert leaks('<p>{ # } % { } { {</p><script>[{"a":{"b":1}}]</script>') == []


@dataclass
class World:
    topic: Topic
    locked: Topic
    ada: object
    grace: object
    troll: object
    moderator: object
    mine: Post
    edited: Post
    hidden: Post

    def anonymous(self) -> Client:
        return Client()

    def as_(self, user) -> CsrfClient:
        return signed_in(user)


def typed_text() -> list[str]:
    """Every text value stored in the site's and the users' tables."""
    text_models = [*apps.get_app_config("forum").get_models(), get_user_model()]
    values = []
    for model in text_models:
        fields = [
            field.attname
            for field in model._meta.concrete_fields
            if isinstance(field, models.CharField | models.TextField)
        ]
        for row in model.objects.values_list(*fields):
            values.extend(value for value in row if isinstance(value, str))
    return values


@pytest.fixture
def world(db, settings, moderator):
    """A debate with a reply of each kind and a log of each moderation, two a page."""
    settings.STANDPOINT_POSTS_PER_PAGE = 2
    topic = make_topic(
        title="Export controls on frontier models",
        body="The first paragraph of the article.\n\nA second one, with a "
        "[link](https://example.org/report).\n\n> A quoted line.",
    )
    locked = make_topic(title="A settled question")
    ada, grace = make_user(username="ada"), make_user(username="grace")
    troll = make_user(username="troll")
    anthropic = topic.parties.get(slug="anthropic")
    services.user_set_defaults(
        user=ada,
        affiliation="University of Nowhere",
        paid="no",
        interests="Anthropic: I hold shares",
    )

    mine = make_post(
        topic=topic,
        author=ada,
        body="Defenders need **these** models.\n\n- one\n- two",
        tags=["open source", "exploits"],
        passage=1,
    )
    make_post(
        topic=topic,
        author=grace,
        parent=mine,
        body="A model wrote this reply.",
        stances=[stance_of(topic, JUSTIFIED)],
        authorship="ai_generated",
        ai_model="Claude",
        ai_maker="Anthropic",
    )
    make_post(
        topic=topic,
        author=grace,
        body="I am paid, and tied to a party.",
        paid="yes",
        paid_by="A think tank",
        conflict="declared",
        conflict_parties=[anthropic],
        conflict_details="I advise them on export rules.",
    )
    edited = make_post(topic=topic, author=ada, body="First words, since changed.")
    edit_post(edited, body="Second words, after an edit.", reason="Fixed a typo.")
    edit_post(
        edited,
        editor=moderator,
        body="Third words, a moderator's edit.",
        reason="Removed a phone number.",
    )
    hidden = make_post(topic=topic, author=troll, body="Buy cheap watches.")
    disputed = make_post(topic=topic, author=troll, body="Nobody pays me.")
    make_post(topic=locked, author=ada, body="A reply before the lock.")

    services.report_create(post=disputed, reporter=ada, reason="undisclosed_interest")
    services.posts_set_status(
        posts=Post.objects.filter(pk=hidden.pk),
        status=PostStatus.HIDDEN,
        actor=moderator,
        reason="Spam.",
    )
    services.posts_review(
        posts=Post.objects.filter(pk=disputed.pk),
        state="disputed",
        actor=moderator,
        note="Works for a model vendor.",
    )
    services.topics_set_flag(
        topics=Topic.objects.filter(pk=locked.pk),
        flag="is_locked",
        value=True,
        actor=moderator,
        reason="The question is settled.",
    )
    services.user_suspend(
        user=troll,
        until=timezone.now() + timedelta(days=7),
        reason="Spam, twice.",
        actor=moderator,
    )
    for claim in ("Open weights help defenders", "Export rules work", "Nobody wins"):
        services.position_propose(
            topic=topic,
            author=ada,
            claim=claim,
            summary="Why it matters.",
            quote="The first paragraph of the article.",
            disclosure=disclosure(),
            attested=True,
        )
    for claim, approve in (("Export rules work", True), ("Nobody wins", False)):
        services.proposals_decide(
            proposals=PositionProposal.objects.filter(claim=claim),
            approve=approve,
            actor=moderator,
            reason="A distinct claim." if approve else "Already covered.",
        )

    typed = [value for value in typed_text() if any(m in value for m in MARKERS)]
    assert typed == [], "the test data itself holds template syntax"
    return World(topic, locked, ada, grace, troll, moderator, mine, edited, hidden)


def slug(w: World, query: str = "") -> str:
    return f"/t/{w.topic.slug}/{query}"


def posted_twice(w: World):
    """A reply, then another at once: the second is over the flood limit."""
    client = w.as_(w.grace)
    client.post(reply_url(w.topic), reply_data(body="A first quick reply."))
    return client.post(reply_url(w.topic), reply_data(body="A second quick reply."))


def reply_failing(monkeypatch, error: Exception) -> Callable[[World], object]:
    def fetch(w: World):
        def fail(**kwargs):
            raise error

        monkeypatch.setattr(services, "post_create", fail)
        client = w.as_(w.grace)
        client.raise_request_exception = False
        return client.post(reply_url(w.topic), reply_data())

    return fetch


def previewed(w: World):
    """The reply form's Preview button: the form's page first, for its token."""
    client = w.as_(w.ada)
    client.get(reply_url(w.topic))
    return client.post(reply_url(w.topic) + "preview/", {"body": "A **draft**."})


def csrf_refused(w: World):
    """A form posted without its token, from a page a browser did not load."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(w.ada)
    return client.post(reply_url(w.topic), reply_data())


# name: (how to fetch it, the status it answers, its heading)
TOPIC = "Export controls on frontier models"
PAGES: dict[str, tuple[Callable[[World], object], int, str | None]] = {
    "topic list": (lambda w: w.anonymous().get("/"), 200, "Debates"),
    "topic list, signed in": (lambda w: w.as_(w.ada).get("/"), 200, "Debates"),
    "thread": (lambda w: w.anonymous().get(slug(w)), 200, TOPIC),
    "thread, signed in with a reply form": (
        lambda w: w.as_(w.ada).get(slug(w)),
        200,
        TOPIC,
    ),
    "thread, as a moderator": (lambda w: w.as_(w.moderator).get(slug(w)), 200, TOPIC),
    "thread, filtered": (
        lambda w: w.anonymous().get(slug(w, f"?stance={ENDANGERS}&written=human")),
        200,
        TOPIC,
    ),
    "thread, other filters": (
        lambda w: w.as_(w.ada).get(
            slug(w, "?ties=party&authorship=human&order=newest")
        ),
        200,
        TOPIC,
    ),
    "thread, page 2": (lambda w: w.anonymous().get(slug(w, "?page=2")), 200, TOPIC),
    "thread, locked": (
        lambda w: w.as_(w.ada).get(f"/t/{w.locked.slug}/"),
        200,
        "A settled question",
    ),
    "post permalink": (
        lambda w: w.anonymous().get(f"/p/{w.edited.pk}/", follow=True),
        200,
        TOPIC,
    ),
    "reply form": (lambda w: w.as_(w.ada).get(reply_url(w.topic)), 200, "Reply"),
    "reply form, quoting a reply": (
        lambda w: w.as_(w.grace).get(reply_url(w.topic) + f"?quote={w.mine.pk}"),
        200,
        "Reply",
    ),
    "reply form, quoting a passage": (
        lambda w: w.as_(w.grace).get(reply_url(w.topic) + "?passage=2"),
        200,
        "Reply",
    ),
    "reply form with errors": (
        lambda w: w.as_(w.ada).post(reply_url(w.topic), {"body": ""}),
        200,
        "Reply",
    ),
    "reply form, previewed without script": (
        lambda w: w.as_(w.ada).post(
            reply_url(w.topic), reply_data(preview="1", body="A *draft*.")
        ),
        200,
        "Reply",
    ),
    "reply preview": (previewed, 200, None),
    "edit form": (
        lambda w: w.as_(w.ada).get(f"/p/{w.edited.pk}/edit/"),
        200,
        "Edit post #{edited}",
    ),
    "edit form, as a moderator": (
        lambda w: w.as_(w.moderator).get(f"/p/{w.mine.pk}/edit/"),
        200,
        "Edit post #{mine}",
    ),
    "post history": (
        lambda w: w.anonymous().get(f"/p/{w.edited.pk}/history/"),
        200,
        "History of post #{edited}",
    ),
    "post history, as a moderator": (
        lambda w: w.as_(w.moderator).get(f"/p/{w.hidden.pk}/history/"),
        200,
        "History of post #{hidden}",
    ),
    "profile": (lambda w: w.anonymous().get("/u/ada/"), 200, "ada"),
    "profile, own": (lambda w: w.as_(w.ada).get("/u/ada/"), 200, "ada"),
    "profile of a suspended reader": (
        lambda w: w.anonymous().get("/u/troll/"),
        200,
        "troll",
    ),
    "disclosure defaults form": (
        lambda w: w.as_(w.ada).get("/accounts/profile/"),
        200,
        "Your disclosure defaults",
    ),
    "disclosure defaults history": (
        lambda w: w.anonymous().get("/u/ada/defaults/"),
        200,
        "ada’s disclosure defaults",
    ),
    "moderation log": (
        lambda w: w.anonymous().get("/moderation/"),
        200,
        "Moderation log",
    ),
    "moderation log, one topic": (
        lambda w: w.anonymous().get(f"/moderation/?topic={w.topic.slug}"),
        200,
        "Moderation log",
    ),
    "proposal form": (
        lambda w: w.as_(w.ada).get(f"/t/{w.topic.slug}/positions/propose/"),
        200,
        "Propose a position",
    ),
    "report form": (
        lambda w: w.as_(w.grace).get(f"/p/{w.mine.pk}/report/"),
        200,
        "Report post #{mine}",
    ),
    "sign-in": (lambda w: w.anonymous().get("/accounts/login/"), 200, "Sign in"),
    "sign-in, wrong password": (
        lambda w: w.anonymous().post(
            "/accounts/login/", {"username": "ada", "password": "not it"}
        ),
        200,
        "Sign in",
    ),
    "sign-up": (
        lambda w: w.anonymous().get("/accounts/signup/"),
        200,
        "Create an account",
    ),
    "sign-up with errors": (
        lambda w: w.anonymous().post(
            "/accounts/signup/",
            {"username": "ada", "password1": PASSWORD, "password2": "other"},
        ),
        200,
        "Create an account",
    ),
    "404, unknown address": (
        lambda w: w.anonymous().get("/no/such/page/"),
        404,
        "Page not found",
    ),
    "404, unknown topic": (
        lambda w: w.anonymous().get("/t/no-such-topic/"),
        404,
        "Page not found",
    ),
    "400, bad filter": (
        lambda w: w.anonymous().get(slug(w, "?written=bogus")),
        400,
        TOPIC,
    ),
    "400, bad moderation log filter": (
        lambda w: w.anonymous().get("/moderation/?topic=no-such-topic"),
        400,
        "Moderation log",
    ),
    "403, reply to a locked topic": (
        lambda w: w.as_(w.ada).get(reply_url(w.locked)),
        403,
        "Reply",
    ),
    "403, reply while suspended": (
        lambda w: w.as_(w.troll).get(reply_url(w.topic)),
        403,
        "Reply",
    ),
    "403, editing someone else's post": (
        lambda w: w.as_(w.grace).get(f"/p/{w.mine.pk}/edit/"),
        403,
        "Edit post #{mine}",
    ),
    "403, reporting one's own post": (
        lambda w: w.as_(w.ada).get(f"/p/{w.mine.pk}/report/"),
        403,
        "Report post #{mine}",
    ),
    "403, missing CSRF token": (csrf_refused, 403, "This form has expired"),
    "429, replying too fast": (posted_twice, 429, "Reply"),
}


def heading(html: str) -> str | None:
    match = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    return squash(match.group(1)) if match else None


@pytest.mark.parametrize("name", PAGES)
def test_page_shows_no_template_syntax(world, name):
    fetch, status, title = PAGES[name]

    response = fetch(world)

    html = response.content.decode()
    assert response.status_code == status, f"{name}: {response.status_code}"
    posts = {
        "mine": world.mine.pk,
        "edited": world.edited.pk,
        "hidden": world.hidden.pk,
    }
    assert heading(html) == (title and title.format(**posts)), f"{name}: wrong page"
    assert title is None or "</html>" in html, f"{name}: not a whole page"
    found = leaks(html)
    assert not found, f"{name} shows template syntax:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("error", "status"),
    [(RuntimeError("a bug"), 500), (OperationalError("database is locked"), 503)],
    ids=["500", "503"],
)
def test_error_pages_show_no_template_syntax(world, monkeypatch, error, status):
    response = reply_failing(monkeypatch, error)(world)

    assert response.status_code == status
    html = response.content.decode()
    assert "</html>" in html
    found = leaks(html)
    assert not found, f"the {status} page shows template syntax:\n" + "\n".join(found)
