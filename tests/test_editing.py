"""Editing with history: /p/<id>/edit/, post_edit and the revisions it keeps."""

import re
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from pytest_django.asserts import assertRedirects

from forum import services
from forum.models import (
    ModerationAction,
    ModerationKind,
    Party,
    Position,
    Post,
    PostRevision,
    PostStatus,
    ReviewState,
    Topic,
)

from .browser_form import form_values
from .factories import HUMAN_DISCLOSURE, edit_post, make_post, make_user, stance
from .pages import (
    as_typed,
    field_errors,
    filled,
    messages_shown,
    page,
    post_block,
    signed_in,
    squash,
    summary_errors,
)

ENDANGERS = "supports-ban-endangers-defenders"
NOT_ENDANGERS = "opposes-ban-endangers-defenders"
JUSTIFIED = "supports-ban-is-justified"
NOT_JUSTIFIED = "opposes-ban-is-justified"
CHOICE = "Select a valid choice. %s is not one of the available choices."

EDITED = "Your edit is saved. The post’s history keeps every version."
ATTEST = "Confirm that your disclosure is complete and accurate."
REASON_REQUIRED = "Give a reason: the public moderation log shows it."
UNCHANGED = "Nothing has changed: edit the text, stances, tags or disclosure first."
NOT_YOURS = "You can only edit your own posts."
HIDDEN = "Moderators hid this post, so it can no longer be edited."
LOCKED = "This topic is locked: its replies can no longer be edited."
KEEP_COPY = " Your text is below so you can keep a copy."
UNTIL = datetime(2099, 3, 15, 18, 30, tzinfo=UTC)
SUSPENSION_REASON = "Repeated pile-ons in the export-ban thread."
SUSPENDED = (
    "Your account is suspended from posting and reporting until 15 March 2099, "
    f"18:30 UTC. Moderators gave this reason: {SUSPENSION_REASON}"
)
SLOW_DOWN = (
    "You are going faster than the site allows. Wait {n} second{s} and send it "
    "again: everything you typed is still here."
)
DISPUTE_NOTE = "The byline credits Claude with the whole text."

# Every tie declared, as a post's stored disclosure (parties given separately).
TIES = {
    "authorship": "ai_assisted",
    "ai_model": "Claude",
    "ai_maker": "Anthropic",
    "affiliation": "University of Nowhere",
    "paid": "expected",
    "paid_by": "A think tank",
    "conflict": "declared",
    "conflict_details": "I advise both on export rules.",
}


def downgrade_message(what: str) -> str:
    return (
        f"This edit declares less than before, or changes what was declared ({what}): "
        "say why. Readers see your reason in the post’s history."
    )


def held_message(state: str, what: str) -> str:
    return (
        f"Moderators have {state} this post’s disclosure, so it cannot declare less "
        f"or change what it declared ({what}) until they review it again. You can add "
        "to it."
    )


# Reading helpers ----------------------------------------------------------


def edit_url(post) -> str:
    return f"/p/{post.pk}/edit/"


def history_url(post) -> str:
    return f"/p/{post.pk}/history/"


def thread_url(topic) -> str:
    return f"/t/{topic.slug}/"


def edit_form(response) -> str:
    match = re.search(r'<form[^>]*class="reply-form".*?</form>', page(response), re.S)
    return match.group(0) if match else ""


def typed_back(response) -> dict[str, list[str]]:
    """What the edit form on the page would send back, blanks left out, values sorted."""
    form = edit_form(response)
    assert form, "no edit form on the page"
    return {
        name: sorted(values)
        for name, values in form_values(form).items()
        if values != [""] and name != "csrfmiddlewaretoken"
    }


def as_sent(data: dict) -> dict[str, list[str]]:
    """`data` as typed_back reads it: non-empty values, sorted."""
    return {name: sorted(values) for name, values in as_typed(data).items()}


def notices(response) -> list[str]:
    found = re.findall(
        r'<p class="notice[^"]*" role="alert">(.*?)</p>', page(response), re.S
    )
    return [squash(notice) for notice in found]


def disclosure_strip(fragment: str) -> str:
    match = re.search(r'<p class="disclosure[^"]*">(.*?)</p>', fragment, re.S)
    return squash(match.group(1)) if match else ""


def trail(fragment: str) -> list[str]:
    """The stance-trail notes in `fragment`, without the date a post adds to each."""
    match = re.search(r'<ul class="stance-trail".*?</ul>', fragment, re.S)
    if not match:
        return []
    notes = [
        squash(note) for note in re.findall(r"<li>(.*?)</li>", match.group(0), re.S)
    ]
    return [re.sub(r" \(\d{1,2} \w{3} \d{4}\)$", "", note) for note in notes]


def trails_by_version(html: str) -> dict[int, list[str]]:
    """The history page's stance-trail notes, by version number, where there are any."""
    found = {}
    for number, version in re.findall(
        r'<li class="version[^"]*" id="v(\d+)">(.*?)</li>\s*(?=<li class="version|</ol>)',
        html,
        re.S,
    ):
        if notes := trail(version):
            found[int(number)] = notes
    return found


def disclosure_changes(html: str) -> list[tuple[str, str, str]]:
    """(part, before, after) of each disclosure change the history page lists."""
    return [
        (squash(part), squash(before), squash(after))
        for part, before, after in re.findall(
            r"<dt>(.*?)</dt><dd><del>(.*?)</del> → <ins>(.*?)</ins></dd>", html, re.S
        )
    ]


def log_entries(response) -> list[tuple[str, str]]:
    """(what, reason) of each entry of the public moderation log."""
    found = []
    for item in re.findall(
        r'<li class="modlog-entry[^"]*">(.*?)</li>', page(response), re.S
    ):
        what = re.search(r'<span class="what">(.*?)</span>', item, re.S).group(1)
        reason = re.search(r'<p class="reason">(.*?)</p>', item, re.S).group(1)
        found.append((squash(what), squash(reason)))
    return found


def has_edit_link(fragment: str, post) -> bool:
    return f'<a class="edit-link" href="{edit_url(post)}">Edit</a>' in fragment


def stored(post) -> dict:
    """The post's row, links and revisions as stored: compared before and after."""
    post = Post.objects.get(pk=post.pk)
    return {
        "row": Post.objects.filter(pk=post.pk).values().get(),
        "stances": sorted(s.slug for s in post.stances.all()),
        "tags": sorted(post.tags.names()),
        "parties": sorted(post.conflict_parties.values_list("slug", flat=True)),
        "revisions": revision_rows(post),
    }


def revision_rows(post) -> list[dict]:
    return list(PostRevision.objects.filter(post=post).order_by("number").values())


def numbers(post) -> list[int]:
    return list(
        PostRevision.objects.filter(post=post)
        .order_by("number")
        .values_list("number", flat=True)
    )


def edit_data(post, **changes) -> dict:
    """Every field of the edit form as `post` stands, attested, with `changes` applied."""
    post = Post.objects.get(pk=post.pk)
    data = {
        "body": post.body,
        "stances": sorted(s.slug for s in post.stances.all()),
        "tags": ", ".join(sorted(post.tags.names())),
        **{name: getattr(post, name) for name in HUMAN_DISCLOSURE},
        "conflict_parties": sorted(p.slug for p in post.conflict_parties.all()),
        "reason": "",
        "attest": "on",
    }
    return filled(data, changes)


def ready(client):
    """`client` with a CSRF cookie from a page that has a form, as a browser would."""
    client.get("/accounts/profile/")
    assert "csrftoken" in client.cookies
    return client


# Fixtures and builders -----------------------------------------------------


def tied_post(topic, author, *, parties=("anthropic", "us-government"), **overrides):
    """A post with every tie declared: AI by a party's model, pay, a conflict."""
    return make_post(
        topic=topic,
        author=author,
        conflict_parties=list(topic.parties.filter(slug__in=parties)),
        **{**TIES, **overrides},
    )


@pytest.fixture
def post(topic, user):
    """A human-written reply with no ties, supporting “The ban endangers defenders”."""
    return make_post(topic=topic, author=user, body="Defenders need these models.")


@pytest.fixture
def author(user):
    return ready(signed_in(user))


@pytest.fixture
def staff(moderator):
    return ready(signed_in(moderator))


def lock(topic, moderator):
    services.topics_set_flag(
        topics=Topic.objects.filter(pk=topic.pk),
        flag="is_locked",
        value=True,
        actor=moderator,
        reason="The debate has run its course.",
    )


def hide(post, moderator):
    services.posts_set_status(
        posts=Post.objects.filter(pk=post.pk),
        status=PostStatus.HIDDEN,
        actor=moderator,
        reason="Personal attack.",
    )


def suspend(user, moderator):
    services.user_suspend(
        user=user, until=UNTIL, reason=SUSPENSION_REASON, actor=moderator
    )


def review(post, moderator, state, note):
    services.posts_review(
        posts=Post.objects.filter(pk=post.pk), state=state, actor=moderator, note=note
    )


# The author's edit ------------------------------------------------------------


def test_edit_page_prefills_body_stances_tags_and_disclosure(topic, user):
    post = tied_post(
        topic,
        user,
        stances=[stance(topic, ENDANGERS), stance(topic, NOT_JUSTIFIED)],
        tags=["exploits", "export"],
    )

    response = ready(signed_in(user)).get(edit_url(post))

    assert response.status_code == 200
    assert typed_back(response) == {
        "body": ["I have *views* on this."],
        "stances": sorted([ENDANGERS, NOT_JUSTIFIED]),
        "tags": ["exploits, export"],
        "authorship": ["ai_assisted"],
        "ai_model": ["Claude"],
        "ai_maker": ["Anthropic"],
        "affiliation": ["University of Nowhere"],
        "paid": ["expected"],
        "paid_by": ["A think tank"],
        "conflict": ["declared"],
        "conflict_parties": ["anthropic", "us-government"],
        "conflict_details": ["I advise both on export rules."],
    }
    # The attestation is given afresh with each edit, never pre-ticked.
    assert 'name="attest"' in edit_form(response)


def test_edit_page_prefills_a_human_post_with_no_ties(author, post):
    response = author.get(edit_url(post))

    assert response.status_code == 200
    assert typed_back(response) == {
        "body": ["Defenders need these models."],
        "stances": [ENDANGERS],
        "authorship": ["human"],
        "affiliation": ["none"],
        "paid": ["no"],
        "conflict": ["none"],
    }


def test_author_edit_is_saved_and_redirects_to_the_post_with_a_message(
    author, post, topic
):
    data = edit_data(
        post,
        body="Defenders need these models, **today**.",
        stances=[ENDANGERS, NOT_JUSTIFIED],
        tags="exploits, export",
        affiliation="Open Source Security Foundation",
        reason="Added my affiliation.",
    )
    attested_before = post.attested_at

    response = author.post(edit_url(post), data)

    assertRedirects(response, post.get_absolute_url(), target_status_code=302)
    post.refresh_from_db()
    assert post.body == "Defenders need these models, **today**."
    assert "<strong>today</strong>" in post.body_html
    assert sorted(s.slug for s in post.stances.all()) == [NOT_JUSTIFIED, ENDANGERS]
    assert sorted(post.tags.names()) == ["exploits", "export"]
    assert post.affiliation == "Open Source Security Foundation"
    assert post.edited is not None
    assert post.attested_at > attested_before
    assert post.amended is False
    assert numbers(post) == [1, 2]
    assert PostRevision.objects.get(post=post, number=2).reason == (
        "Added my affiliation."
    )
    shown = author.get(response.url, follow=True)
    assert messages_shown(shown) == [EDITED]
    block = post_block(shown, post)
    assert "Defenders need these models, <strong>today</strong>." in block
    assert f'<a class="edited" href="{history_url(post)}"' in block


def test_edit_without_attestation_is_refused_at_the_field_and_text_kept(author, post):
    data = edit_data(post, body="A changed text.", attest=None)
    before = stored(post)

    response = author.post(edit_url(post), data)

    assert response.status_code == 200
    assert field_errors(response, "attest") == [ATTEST]
    assert typed_back(response) == as_sent(data)
    assert stored(post) == before
    assert before["revisions"] == []


REFUSED_EDITS = {
    "no stance": (
        {"stances": []},
        "stances",
        "Choose at least one stance: say where this reply stands.",
    ),
    "contradictory stances": (
        {"stances": [ENDANGERS, NOT_ENDANGERS]},
        "stances",
        "A reply cannot both support and oppose “The ban endangers defenders”.",
    ),
    "AI without model": (
        {"authorship": "ai_assisted", "ai_maker": "Anthropic"},
        "ai_model",
        "Name the AI model you used, e.g. “Claude”.",
    ),
    "AI without maker": (
        {"authorship": "ai_generated", "ai_model": "Claude"},
        "ai_maker",
        "Name the company or group that made the AI model, e.g. “Anthropic”.",
    ),
    "paid without payer": (
        {"paid": "yes"},
        "paid_by",
        "Say who pays you, or will, to post on this.",
    ),
    "affiliation blank": (
        {"affiliation": "  "},
        "affiliation",
        "Give your relevant employer or organisation, or write “none”.",
    ),
    "conflict without parties": (
        {"conflict": "declared", "conflict_details": "I consult for them."},
        "conflict_parties",
        "Choose the party or parties your conflict of interest involves.",
    ),
    "conflict without details": (
        {"conflict": "declared", "conflict_parties": ["anthropic"]},
        "conflict_details",
        "Describe the conflict of interest in a sentence or two.",
    ),
    "party of another topic": (
        {
            "conflict": "declared",
            "conflict_parties": ["amazon"],
            "conflict_details": "I sell to them.",
        },
        "conflict_parties",
        CHOICE % "amazon",
    ),
    "body empty": ({"body": ""}, "body", "Write your reply before posting."),
}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [pytest.param(*case, id=name) for name, case in REFUSED_EDITS.items()],
)
def test_invalid_edit_is_refused_by_field_with_the_text_kept_and_nothing_stored(
    author, post, other_topic, changes, field, message
):
    data = edit_data(post, **{"body": "My edited text.", **changes})
    before = stored(post)

    response = author.post(edit_url(post), data)

    assert response.status_code == 200
    assert field_errors(response, field) == [message]
    typed = as_sent(data)
    if message.startswith("Select a valid choice."):
        # A value the form never offered has no checkbox to come back in.
        del typed[field]
    assert typed_back(response) == typed
    assert stored(post) == before
    assert not PostRevision.objects.exists()


def test_invalid_edit_of_an_edited_post_adds_no_revision(author, post):
    edit_post(post, body="First edit.")
    before = stored(post)

    response = author.post(edit_url(post), edit_data(post, body="Second.", stances=[]))

    assert response.status_code == 200
    assert stored(post) == before
    assert numbers(post) == [1, 2]


# Who may edit, and when --------------------------------------------------------


def test_anonymous_reader_is_sent_to_sign_in(csrf_client, post):
    before = stored(post)

    shown = csrf_client.get(edit_url(post))
    sent = csrf_client.post(edit_url(post), edit_data(post, body="Not mine."))

    for response in (shown, sent):
        assertRedirects(response, f"/accounts/login/?next={edit_url(post)}")
    assert stored(post) == before


def test_another_reader_is_refused_with_403_and_nothing_changes(post):
    other = ready(signed_in(make_user()))
    before = stored(post)

    shown = other.get(edit_url(post))
    sent = other.post(edit_url(post), edit_data(post, body="Vandalised."))

    for response in (shown, sent):
        assert response.status_code == 403
        assert notices(response) == [NOT_YOURS]
        assert edit_form(response) == ""
        assert "Vandalised." not in page(response)
    assert stored(post) == before


def test_service_refuses_another_readers_edit(post):
    with pytest.raises(ValidationError) as caught:
        edit_post(post, editor=make_user(), body="Vandalised.", reason="Because.")

    assert caught.value.code == "not_yours"
    assert Post.objects.get(pk=post.pk).body == "Defenders need these models."
    assert not PostRevision.objects.exists()


BLOCKED = {
    "locked topic": (
        lambda post, mod: lock(post.topic, mod),
        LOCKED + KEEP_COPY,
        LOCKED,
    ),
    "hidden post": (lambda post, mod: hide(post, mod), HIDDEN + KEEP_COPY, HIDDEN),
    "suspended author": (
        lambda post, mod: suspend(post.author, mod),
        SUSPENDED + " Nothing was stored; your text is below so you can keep a copy.",
        SUSPENDED,
    ),
}


@pytest.mark.parametrize(
    ("block", "on_post", "on_get"),
    [pytest.param(*case, id=name) for name, case in BLOCKED.items()],
)
def test_blocked_author_gets_403_with_the_reason_and_the_text_back(
    author, post, moderator, block, on_post, on_get
):
    block(post, moderator)
    data = edit_data(post, body="My careful *rewrite*.", tags="late, thoughts")
    before = stored(post)

    shown = author.get(edit_url(post))
    sent = author.post(edit_url(post), data)

    assert shown.status_code == 403
    assert notices(shown) == [on_get]
    assert edit_form(shown) == ""
    assert sent.status_code == 403
    assert notices(sent) == [on_post]
    assert typed_back(sent) == as_sent(data)
    assert stored(post) == before


@pytest.mark.parametrize(
    ("block", "code"),
    [
        pytest.param(
            lambda post, mod: lock(post.topic, mod), "topic_locked", id="locked"
        ),
        pytest.param(lambda post, mod: hide(post, mod), "post_hidden", id="hidden"),
        pytest.param(
            lambda post, mod: suspend(post.author, mod), "suspended", id="suspended"
        ),
    ],
)
def test_service_refuses_a_blocked_authors_edit(post, moderator, block, code):
    block(post, moderator)
    before = stored(post)

    with pytest.raises(ValidationError) as caught:
        edit_post(post, body="Rewritten.")

    assert caught.value.code == code
    assert stored(post) == before


def test_moderator_may_still_edit_in_a_locked_topic(staff, post, topic, moderator):
    lock(topic, moderator)

    response = staff.post(
        edit_url(post),
        edit_data(post, body="Link removed.", reason="Spam link.", attest=None),
    )

    assertRedirects(response, post.get_absolute_url(), target_status_code=302)
    assert Post.objects.get(pk=post.pk).body == "Link removed."


@pytest.mark.parametrize("tied", [False, True], ids=["no ties", "every tie"])
def test_resubmitting_the_form_unchanged_says_nothing_changed(
    author, topic, user, tied
):
    if tied:
        post = tied_post(topic, user, tags=["open source", "exploits"])
    else:
        post = make_post(topic=topic, author=user)
    shown = author.get(edit_url(post))
    data = {**typed_back(shown), "attest": "on"}
    before = stored(post)

    response = author.post(edit_url(post), data)

    assert response.status_code == 200
    assert UNCHANGED in summary_errors(response)
    assert typed_back(response) == as_sent({**data, "attest": ["on"]})
    assert stored(post) == before


def test_same_tags_in_another_order_and_spacing_are_no_change(author, topic, user):
    post = make_post(topic=topic, author=user, tags=["exploits", "export"])
    before = stored(post)

    response = author.post(edit_url(post), edit_data(post, tags="export ,exploits"))

    assert response.status_code == 200
    assert UNCHANGED in summary_errors(response)
    assert stored(post) == before


def test_service_refuses_a_party_of_another_topic(post, other_topic):
    amazon = Party.objects.get(topic=other_topic, slug="amazon")
    before = stored(post)

    with pytest.raises(ValidationError) as caught:
        edit_post(
            post,
            conflict="declared",
            conflict_parties=[amazon],
            conflict_details="I sell to them.",
        )

    error = caught.value.error_dict["conflict_parties"][0]
    assert (error.code, error.message) == (
        "conflict_party_foreign",
        "Choose parties of this topic only.",
    )
    assert stored(post) == before


def test_service_refuses_an_edit_that_changes_nothing(post):
    with pytest.raises(ValidationError) as caught:
        edit_post(post, reason="Just checking.")

    assert caught.value.code == "unchanged"
    assert not PostRevision.objects.exists()
    assert Post.objects.get(pk=post.pk).edited is None


# History -------------------------------------------------------------------------


# Each step: the form changes, and what the post then stores.
EDIT_STEPS = [
    ("body", {"body": "Defenders need these models now."}),
    ("stances", {"stances": [NOT_ENDANGERS, JUSTIFIED]}),
    ("tags", {"tags": "exploits, export"}),
    (
        "more AI",
        {"authorship": "ai_polished", "ai_model": "Claude", "ai_maker": "Anthropic"},
    ),
    ("affiliation", {"affiliation": "Open Source Security Foundation"}),
    ("payment", {"paid": "yes", "paid_by": "A think tank"}),
    (
        "conflict",
        {
            "conflict": "declared",
            "conflict_parties": ["anthropic"],
            "conflict_details": "I consult for them.",
        },
    ),
    ("party added", {"conflict_parties": ["anthropic", "us-government"]}),
    ("details", {"conflict_details": "I consult for both.", "reason": "Both now."}),
    (
        "party removed",
        {
            "conflict_parties": ["us-government"],
            "reason": "I ended the Anthropic contract.",
        },
    ),
    ("payment removed", {"paid": "no", "paid_by": "", "reason": "The grant ended."}),
    ("tags cleared", {"tags": ""}),
]


def test_history_survives_every_kind_of_edit_one_revision_each(
    settings, author, post, user
):
    settings.STANDPOINT_RATE_LIMITS = {**settings.STANDPOINT_RATE_LIMITS, "edit": "off"}
    original = stored(post)["row"]
    kept = []

    for step, (name, changes) in enumerate(EDIT_STEPS, start=2):
        response = author.post(edit_url(post), edit_data(post, **changes))

        assert response.status_code == 302, name
        rows = revision_rows(post)
        assert [row["number"] for row in rows] == list(range(1, step + 1)), name
        # The versions already stored are exactly as they were.
        assert rows[: len(kept)] == kept, name
        kept = rows
        latest, now = rows[-1], edit_data(post)
        assert latest["body"] == now["body"], name
        assert (
            sorted(f"{s['polarity']}-{s['position']}" for s in latest["stances"])
            == (now["stances"])
        ), name
        assert ", ".join(latest["tags"]) == now["tags"], name
        assert [p["slug"] for p in latest["conflict_parties"]] == (
            now["conflict_parties"]
        ), name
        for field in HUMAN_DISCLOSURE:
            assert latest[field] == now[field], (name, field)
        assert latest["editor_id"] == user.pk

    first = kept[0]
    assert first["body"] == original["body"] == "Defenders need these models."
    assert first["stances"] == [
        {
            "position": "ban-endangers-defenders",
            "claim": "The ban endangers defenders",
            "polarity": "supports",
        }
    ]
    assert (first["tags"], first["conflict_parties"]) == ([], [])
    assert {field: first[field] for field in HUMAN_DISCLOSURE} == HUMAN_DISCLOSURE
    assert [row["downgrade"] for row in kept] == [False] * 9 + [True, True, True, False]
    history = author.get(history_url(post))
    assert f"It has {len(kept)} versions, oldest first" in squash(page(history))


def test_first_edit_stores_the_original_as_revision_one_by_its_author(
    topic, user, moderator
):
    post = tied_post(topic, user, parties=["anthropic"], tags=["exploits"])
    created = post.created

    edit_post(post, editor=moderator, reason="Spam link removed.", body="Tidied.")

    first, second = PostRevision.objects.filter(post=post).order_by("number")
    assert (first.number, first.editor, first.created) == (1, user, created)
    assert first.reason == ""
    assert first.body == "I have *views* on this."
    assert first.tags == ["exploits"]
    assert first.conflict_parties == [{"slug": "anthropic", "name": "Anthropic"}]
    assert {name: getattr(first, name) for name in TIES} == TIES
    assert (second.number, second.editor, second.reason) == (
        2,
        moderator,
        "Spam link removed.",
    )
    assert second.body == "Tidied."
    assert second.created > created
    assert second.created == Post.objects.get(pk=post.pk).edited


def test_later_edits_leave_earlier_revisions_untouched(topic, user):
    post = tied_post(topic, user)
    edit_post(post, body="Second version.", stances=[stance(topic, NOT_ENDANGERS)])
    edit_post(post, tags=["exploits"])
    before = revision_rows(post)

    edit_post(
        post,
        authorship="human",
        ai_model="",
        ai_maker="",
        conflict="none",
        conflict_parties=[],
        conflict_details="",
        reason="I wrote it myself and left the board.",
    )
    edit_post(post, body="Fourth version.")

    after = revision_rows(post)
    assert [row["number"] for row in after] == [1, 2, 3, 4, 5]
    assert after[:3] == before


def test_history_page_shows_each_version_and_its_reason(client, post):
    edit_post(post, body="Defenders need these models now.")
    edit_post(
        post,
        paid="yes",
        paid_by="A think tank",
    )
    edit_post(post, paid="no", paid_by="", reason="The grant ended.")

    response = client.get(history_url(post))

    text = squash(page(response))
    assert response.status_code == 200
    assert "It has 4 versions, oldest first" in text
    assert "Reason: The grant ended." in text
    assert disclosure_changes(page(response)) == [
        ("Pay", "Not paid", "Paid by A think tank"),
        ("Pay", "Paid by A think tank", "Not paid"),
    ]


# Declaring less needs a reason ------------------------------------------------------


# (the post's disclosure, the edit, the words naming what it declares less of)
DOWNGRADES = {
    "less AI involvement": (
        {"authorship": "ai_generated", "ai_model": "GPT-4o", "ai_maker": "OpenAI"},
        {"authorship": "ai_assisted"},
        "less AI involvement (AI-generated → AI-assisted)",
    ),
    "AI removed, made by a party": (
        {},
        {"authorship": "human", "ai_model": "", "ai_maker": ""},
        "less AI involvement (AI-assisted → Human-written)",
    ),
    "payment removed": (
        {"paid": "yes"},
        {"paid": "no", "paid_by": ""},
        "the payment removed",
    ),
    "expected payment removed": (
        {},
        {"paid": "no", "paid_by": ""},
        "the payment removed",
    ),
    "paid, now only expected": (
        {"paid": "yes"},
        {"paid": "expected"},
        "a changed payment",
    ),
    "another payer": ({}, {"paid_by": "My aunt"}, "a changed payment"),
    "affiliation changed": ({}, {"affiliation": "none"}, "a changed affiliation"),
    "conflict details rewritten": (
        {},
        {"conflict_details": "Nothing much."},
        "rewritten conflict details",
    ),
    "details rewritten as a party is added": (
        {"parties": ["anthropic"]},
        {
            "conflict_parties": ["anthropic", "us-government"],
            "conflict_details": "I once met an official.",
        },
        "rewritten conflict details",
    ),
    "conflict removed": (
        {},
        {"conflict": "none", "conflict_parties": [], "conflict_details": ""},
        "the conflict of interest removed",
    ),
    "a conflict party removed": (
        {},
        {"conflict_parties": ["anthropic"]},
        "a party removed from the conflict of interest",
    ),
    "AI maker that is a party replaced": (
        {},
        {"ai_model": "GPT-4o", "ai_maker": "OpenAI"},
        "a different AI model or maker",
    ),
}


@pytest.mark.parametrize(
    ("start", "changes", "what"),
    [pytest.param(*case, id=name) for name, case in DOWNGRADES.items()],
)
def test_declaring_less_is_refused_without_a_reason_and_text_kept(
    author, topic, user, start, changes, what
):
    post = tied_post(topic, user, **start)
    data = edit_data(post, body="I have *fewer* ties now.", **changes)
    before = stored(post)

    response = author.post(edit_url(post), data)

    assert response.status_code == 200
    assert field_errors(response, "reason") == [downgrade_message(what)]
    assert typed_back(response) == as_sent(data)
    assert stored(post) == before


@pytest.mark.parametrize(
    ("start", "changes", "what"),
    [pytest.param(*case, id=name) for name, case in DOWNGRADES.items()],
)
def test_declaring_less_with_a_reason_is_saved_and_marks_the_post_amended(
    author, client, topic, user, start, changes, what
):
    post = tied_post(topic, user, **start)
    reason = "I had declared that by mistake."

    response = author.post(edit_url(post), edit_data(post, reason=reason, **changes))

    assertRedirects(response, post.get_absolute_url(), target_status_code=302)
    post.refresh_from_db()
    assert post.amended is True
    latest = PostRevision.objects.get(post=post, number=2)
    assert (latest.downgrade, latest.reason) == (True, reason)
    assert PostRevision.objects.get(post=post, number=1).downgrade is False
    badge = f'<a class="badge amended" href="{history_url(post)}"'
    assert badge in post_block(client.get(thread_url(topic)), post)
    assert badge in post_block(author.get(thread_url(topic)), post)
    assert f"Reason: {reason}" in squash(page(client.get(history_url(post))))


# (the post's disclosure, an edit that declares more or the same)
UPGRADES = {
    "AI declared on a human post": (
        None,
        {"authorship": "ai_assisted", "ai_model": "Claude", "ai_maker": "Anthropic"},
    ),
    "more AI": ({}, {"authorship": "ai_generated"}),
    "conflict declared": (
        None,
        {
            "conflict": "declared",
            "conflict_parties": ["us-government"],
            "conflict_details": "I consult for them.",
        },
    ),
    "a conflict party added": (
        {"parties": ["anthropic"]},
        {"conflict_parties": ["anthropic", "us-government"]},
    ),
    "payment declared": (None, {"paid": "yes", "paid_by": "A think tank"}),
    "maker named by its alias": ({}, {"ai_maker": "Anthropic PBC"}),
    "conflict details with a party added": (
        {"parties": ["anthropic"]},
        {
            "conflict_parties": ["anthropic", "us-government"],
            "conflict_details": "I advise both on export rules. The agency too.",
        },
    ),
    "affiliation extended": ({}, {"affiliation": "University of Nowhere and Acme"}),
    "payer extended": ({}, {"paid_by": "A think tank and its donors"}),
    "an affiliation where there was none": (
        None,
        {"affiliation": "University of Nowhere"},
    ),
}


@pytest.mark.parametrize(
    ("start", "changes"),
    [pytest.param(*case, id=name) for name, case in UPGRADES.items()],
)
def test_declaring_more_needs_no_reason_and_is_not_amended(
    author, client, topic, user, start, changes
):
    if start is None:
        post = make_post(topic=topic, author=user)
    else:
        post = tied_post(topic, user, **start)

    response = author.post(edit_url(post), edit_data(post, **changes))

    assertRedirects(response, post.get_absolute_url(), target_status_code=302)
    post.refresh_from_db()
    assert post.amended is False
    assert PostRevision.objects.get(post=post, number=2).downgrade is False
    block = post_block(client.get(thread_url(topic)), post)
    assert block
    assert "amended" not in squash(block)


def test_amended_stays_after_a_later_edit_declares_more(topic, user):
    post = tied_post(topic, user)
    edit_post(post, paid="no", paid_by="", reason="The grant ended.")

    edit_post(post, paid="yes", paid_by="A new grant")

    post.refresh_from_db()
    assert post.amended is True
    assert [r.downgrade for r in post.revisions.order_by("number")] == [
        False,
        True,
        False,
    ]


def test_service_refuses_declaring_less_without_a_reason(topic, user):
    post = tied_post(topic, user)
    before = stored(post)

    with pytest.raises(ValidationError) as caught:
        edit_post(post, paid="no", paid_by="", reason="   ")

    error = caught.value.error_dict["reason"][0]
    assert error.code == "downgrade_reason_required"
    assert error.messages == [downgrade_message("the payment removed")]
    assert stored(post) == before


# Review holds the disclosure -------------------------------------------------------


def test_author_cannot_declare_less_on_a_disputed_post(author, topic, user, moderator):
    post = tied_post(topic, user)
    review(post, moderator, ReviewState.DISPUTED, DISPUTE_NOTE)
    data = edit_data(
        post,
        authorship="human",
        ai_model="",
        ai_maker="",
        reason="I wrote every word.",
    )
    before = stored(post)

    response = author.post(edit_url(post), data)

    assert response.status_code == 409
    what = "less AI involvement (AI-assisted → Human-written)"
    assert held_message("disputed", what) in summary_errors(response)
    assert field_errors(response, "reason") == []
    assert typed_back(response) == as_sent(data)
    assert stored(post) == before


def test_author_cannot_declare_less_on_a_moderator_labelled_post(
    author, topic, user, moderator
):
    post = make_post(topic=topic, author=user)
    edit_post(
        post,
        editor=moderator,
        reason="The author's own blog says they are paid by a think tank.",
        paid="yes",
        paid_by="A think tank",
    )
    data = edit_data(post, paid="no", paid_by="", reason="Not true.")
    before = stored(post)

    response = author.post(edit_url(post), data)

    assert response.status_code == 409
    assert held_message("relabelled", "the payment removed") in summary_errors(response)
    assert typed_back(response) == as_sent(data)
    assert stored(post) == before


def test_service_refuses_the_author_declaring_less_while_disputed(
    topic, user, moderator
):
    post = tied_post(topic, user)
    review(post, moderator, ReviewState.DISPUTED, DISPUTE_NOTE)

    us_government = Party.objects.get(topic=topic, slug="us-government")

    with pytest.raises(ValidationError) as caught:
        edit_post(post, conflict_parties=[us_government], reason="Contract ended.")

    assert caught.value.code == "review_holds_disclosure"
    assert numbers(post) == []


def test_author_can_add_to_a_disputed_disclosure(author, topic, user, moderator):
    post = tied_post(topic, user, parties=["anthropic"])
    review(post, moderator, ReviewState.DISPUTED, DISPUTE_NOTE)

    response = author.post(
        edit_url(post),
        edit_data(
            post,
            authorship="ai_generated",
            conflict_parties=["anthropic", "us-government"],
        ),
    )

    assertRedirects(response, post.get_absolute_url(), target_status_code=302)
    post.refresh_from_db()
    assert post.authorship == "ai_generated"
    assert sorted(post.conflict_parties.values_list("slug", flat=True)) == [
        "anthropic",
        "us-government",
    ]
    # Only the moderators' verdict lifts a dispute.
    assert (post.review_state, post.review_note) == (ReviewState.DISPUTED, DISPUTE_NOTE)
    assert post.amended is False


def test_moderator_can_declare_less_on_a_disputed_post_with_a_reason(
    staff, client, topic, user, moderator
):
    post = tied_post(topic, user)
    review(post, moderator, ReviewState.DISPUTED, DISPUTE_NOTE)
    reason = "The author showed drafts: Claude only fixed the spelling."

    response = staff.post(
        edit_url(post), edit_data(post, authorship="ai_polished", reason=reason)
    )

    assertRedirects(response, post.get_absolute_url(), target_status_code=302)
    post.refresh_from_db()
    assert post.authorship == "ai_polished"
    assert post.amended is True
    assert (post.review_state, post.review_note, post.reviewed_by) == (
        ReviewState.MODERATOR_LABELLED,
        reason,
        moderator,
    )
    latest = PostRevision.objects.get(post=post, number=2)
    assert (latest.editor, latest.downgrade, latest.reason) == (moderator, True, reason)
    strip = disclosure_strip(post_block(client.get(thread_url(topic)), post))
    assert strip.endswith(f"Label added by moderators: {reason}")


# Moderators' edits --------------------------------------------------------------------


def test_moderator_edit_page_asks_for_a_public_reason_instead_of_attestation(
    staff, post
):
    response = staff.get(edit_url(post))

    assert response.status_code == 200
    form = edit_form(response)
    assert 'name="attest"' not in form
    assert 'name="reason"' in form
    assert "Public reason" in squash(form)
    assert "as a moderator" in squash(page(response))


def test_moderator_edit_without_a_reason_is_refused_and_text_kept(staff, post):
    data = edit_data(post, body="Spam link removed.", attest=None)
    before = stored(post)

    response = staff.post(edit_url(post), data)

    assert response.status_code == 200
    assert field_errors(response, "reason") == [REASON_REQUIRED]
    assert typed_back(response) == as_sent(data)
    assert stored(post) == before
    assert not ModerationAction.objects.exists()


def test_moderator_edit_is_logged_with_its_reason(staff, client, post, moderator):
    attested = post.attested_at
    reason = "Removed a link to a doxxing site."

    response = staff.post(
        edit_url(post),
        edit_data(post, body="Defenders need models.", reason=reason, attest=None),
    )

    assertRedirects(response, post.get_absolute_url(), target_status_code=302)
    post.refresh_from_db()
    assert post.body == "Defenders need models."
    # The text changed, not the disclosure: the author's attestation stands.
    assert post.review_state == ReviewState.SELF_DECLARED
    assert post.attested_at == attested
    assert list(
        ModerationAction.objects.values_list("action", "reason", "actor", "post")
    ) == [(ModerationKind.EDIT_POST, reason, moderator.pk, post.pk)]
    revision = PostRevision.objects.get(post=post, number=2)
    assert (revision.editor, revision.reason) == (moderator, reason)
    assert log_entries(client.get("/moderation/")) == [
        ("edited a post:", f"Reason: {reason}")
    ]
    history = squash(page(client.get(history_url(post))))
    assert f"by a moderator Reason: {reason}" in history


def test_moderator_disclosure_change_labels_the_post(
    staff, client, topic, post, moderator
):
    reason = "The author's blog says a think tank pays for these posts."

    response = staff.post(
        edit_url(post),
        edit_data(post, paid="yes", paid_by="A think tank", reason=reason, attest=None),
    )

    assertRedirects(response, post.get_absolute_url(), target_status_code=302)
    post.refresh_from_db()
    assert (post.paid, post.paid_by) == ("yes", "A think tank")
    assert post.review_state == ReviewState.MODERATOR_LABELLED
    assert (post.review_note, post.reviewed_by) == (reason, moderator)
    assert post.reviewed_at == post.edited
    assert post.amended is False
    assert sorted(
        ModerationAction.objects.filter(post=post).values_list("action", "reason")
    ) == sorted(
        [
            (ModerationKind.EDIT_POST, reason),
            (ModerationKind.LABEL_DISCLOSURE, reason),
        ]
    )
    strip = disclosure_strip(post_block(client.get(thread_url(topic)), post))
    assert "Paid by A think tank" in strip
    assert strip.endswith(f"Label added by moderators: {reason}")
    assert sorted(log_entries(client.get("/moderation/"))) == sorted(
        [
            ("edited a post:", f"Reason: {reason}"),
            ("relabelled a post’s disclosure:", f"Reason: {reason}"),
        ]
    )


# Review state after the author's edits ------------------------------------------------


@pytest.mark.parametrize("state", [ReviewState.VERIFIED, ReviewState.CORRECTED])
def test_authors_disclosure_change_resets_a_reviewed_post_to_self_declared(
    author, client, topic, post, moderator, state
):
    review(post, moderator, state, "Checked against the author's staff page.")

    response = author.post(
        edit_url(post), edit_data(post, affiliation="Open Source Security Foundation")
    )

    assert response.status_code == 302
    post.refresh_from_db()
    assert post.review_state == ReviewState.SELF_DECLARED
    assert (post.review_note, post.reviewed_by, post.reviewed_at) == ("", None, None)
    strip = disclosure_strip(post_block(client.get(thread_url(topic)), post))
    assert "Checked against" not in strip
    assert "Affiliation: Open Source Security Foundation" in strip


def test_authors_body_edit_keeps_a_verified_disclosure(
    author, client, topic, post, moderator
):
    review(post, moderator, ReviewState.VERIFIED, "Checked against the staff page.")
    reviewed_at = Post.objects.get(pk=post.pk).reviewed_at

    response = author.post(
        edit_url(post), edit_data(post, body="Better words.", tags="exploits")
    )

    assert response.status_code == 302
    post.refresh_from_db()
    assert post.body == "Better words."
    assert (post.review_state, post.reviewed_by, post.reviewed_at) == (
        ReviewState.VERIFIED,
        moderator,
        reviewed_at,
    )
    strip = disclosure_strip(post_block(client.get(thread_url(topic)), post))
    verified = f"Verified by moderators on {reviewed_at.day} {reviewed_at:%b %Y}"
    assert strip.endswith(f"{verified}: Checked against the staff page.")


# The stance trail ----------------------------------------------------------------------


def test_switched_stance_is_shown_on_the_post_and_in_its_history(
    author, client, topic, post
):
    note = "Changed stance on “The ban endangers defenders” from supports to opposes"

    response = author.post(edit_url(post), edit_data(post, stances=[NOT_ENDANGERS]))

    assert response.status_code == 302
    assert PostRevision.objects.get(post=post, number=2).stance_changes == [
        {"claim": "The ban endangers defenders", "from": "supports", "to": "opposes"}
    ]
    for reader in (client, author):
        assert trail(post_block(reader.get(thread_url(topic)), post)) == [note]
        assert trail(page(reader.get(history_url(post)))) == [note]


def test_taking_and_dropping_stances_have_their_own_words(client, topic, user):
    post = make_post(
        topic=topic,
        author=user,
        stances=[stance(topic, ENDANGERS), stance(topic, NOT_JUSTIFIED)],
    )

    edit_post(post, stances=[stance(topic, ENDANGERS)])
    edit_post(post, stances=[stance(topic, ENDANGERS), stance(topic, JUSTIFIED)])
    edit_post(post, body="Only the text this time.")

    dropped = "Dropped its stance on “The ban is justified” (was: opposes)"
    took = "Took a stance on “The ban is justified”: supports"
    assert trail(post_block(client.get(thread_url(topic)), post)) == [dropped, took]
    history = page(client.get(history_url(post)))
    # One list per version that changed a stance: versions 2 and 3.
    assert trails_by_version(history) == {2: [dropped], 3: [took]}
    assert PostRevision.objects.get(post=post, number=4).stance_changes == []


# Counts and caches follow an edit -------------------------------------------------------


def test_stored_counts_follow_a_stance_edit(author, topic, post):
    make_post(topic=topic, stances=[stance(topic, ENDANGERS)])
    endangers = Position.objects.get(topic=topic, slug="ban-endangers-defenders")
    justified = Position.objects.get(topic=topic, slug="ban-is-justified")

    response = author.post(
        edit_url(post), edit_data(post, stances=[NOT_ENDANGERS, JUSTIFIED])
    )

    assert response.status_code == 302
    topic.refresh_from_db()
    endangers.refresh_from_db()
    justified.refresh_from_db()
    assert topic.reply_count == 2
    assert (endangers.support_count, endangers.oppose_count) == (1, 1)
    assert (justified.support_count, justified.oppose_count) == (1, 0)


def test_anonymous_cached_thread_shows_an_edit_at_once(author, topic, post):
    reader = Client()
    first = reader.get(thread_url(topic))
    assert "Defenders need these models." in post_block(first, post)

    response = author.post(
        edit_url(post), edit_data(post, body="Rewritten for **clarity**.")
    )

    assert response.status_code == 302
    block = post_block(reader.get(thread_url(topic)), post)
    assert "Rewritten for <strong>clarity</strong>." in block
    assert "Defenders need these models." not in block
    assert f'<a class="edited" href="{history_url(post)}"' in block


# Edit links -------------------------------------------------------------------------------


def test_edit_links_show_where_the_reader_may_edit(topic, user, moderator):
    mine = make_post(topic=topic, author=user)
    theirs = make_post(topic=topic)
    reader = Client()
    readers = {
        "anonymous": (reader, []),
        "author": (signed_in(user), [mine]),
        "moderator": (signed_in(moderator), [mine, theirs]),
        "anonymous again": (reader, []),  # served from the cache
    }

    for name, (client, editable) in readers.items():
        response = client.get(thread_url(topic))
        assert response.status_code == 200, name
        for post in (mine, theirs):
            assert has_edit_link(post_block(response, post), post) == (
                post in editable
            ), (name, post)
        assert page(response).count('class="edit-link"') == len(editable), name
        holes = re.findall(r"<!--edit (\d+) (\S+)-->", page(response))
        if name.startswith("anonymous"):
            # The shared page keeps its holes for signed-in readers, naming
            # each author by a keyed hash, not by account id.
            assert sorted(int(pk) for pk, _ in holes) == sorted([mine.pk, theirs.pk])
            assert all(len(tag) == 16 and tag != str(user.pk) for _, tag in holes)
        else:
            assert holes == [], name


def test_locked_topic_shows_no_edit_link_to_the_author_but_does_to_staff(
    topic, user, moderator
):
    mine = make_post(topic=topic, author=user)
    lock(topic, moderator)

    as_author = signed_in(user).get(thread_url(topic))
    as_staff = signed_in(moderator).get(thread_url(topic))

    assert not has_edit_link(post_block(as_author, mine), mine)
    assert has_edit_link(post_block(as_staff, mine), mine)
    for response in (as_author, as_staff):
        assert "<!--edit" not in page(response)


def test_history_page_offers_edit_only_where_the_reader_may_edit(
    topic, user, moderator
):
    mine = make_post(topic=topic, author=user)
    history = f"/p/{mine.pk}/history/"
    edit = f'href="/p/{mine.pk}/edit/"'

    assert edit in page(signed_in(user).get(history))
    assert edit not in page(signed_in(make_user()).get(history))
    assert edit not in page(Client().get(history))
    lock(topic, moderator)
    assert edit not in page(signed_in(user).get(history))
    assert edit in page(signed_in(moderator).get(history))


# PostRevision in the database ------------------------------------------------------------


def revision_fields(post, **overrides) -> dict:
    fields = {
        "post": post,
        "number": 1,
        "editor": post.author,
        "body": "A version.",
        **HUMAN_DISCLOSURE,
    }
    return {**fields, **overrides}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            {"number": 2, "downgrade": True, "reason": " \n "},
            "A disclosure that declares less than before needs its editor's reason.",
            id="downgrade without reason",
        ),
        pytest.param(
            {"ai_model": "Claude"},
            "Name the AI model and its maker when AI was involved, and leave both "
            "empty when it was not.",
            id="human with AI model",
        ),
        pytest.param(
            {"authorship": "ai_generated", "ai_model": "Claude"},
            "Name the AI model and its maker when AI was involved, and leave both "
            "empty when it was not.",
            id="AI without maker",
        ),
        pytest.param(
            {"paid": "yes"},
            "Say who pays when the post is paid or payment is expected, and no one "
            "otherwise.",
            id="paid without payer",
        ),
        pytest.param(
            {"conflict": "declared"},
            "Describe a declared conflict, and leave the details empty when there "
            "is none.",
            id="conflict without details",
        ),
        pytest.param({"number": 0}, "Revisions are numbered from 1.", id="number zero"),
    ],
)
def test_revision_rules_hold_in_full_clean_and_the_database(post, overrides, message):
    revision = PostRevision(**revision_fields(post, **overrides))

    with pytest.raises(ValidationError) as caught:
        revision.full_clean()
    assert message in caught.value.messages

    with pytest.raises(IntegrityError), transaction.atomic():
        PostRevision.objects.create(**revision_fields(post, **overrides))
    assert not PostRevision.objects.exists()


def test_downgrade_with_a_reason_is_stored(post):
    revision = PostRevision.objects.create(
        **revision_fields(post, number=2, downgrade=True, reason="The grant ended.")
    )

    assert revision.downgrade is True


def test_stored_downgrade_cannot_lose_its_reason(topic, user):
    post = tied_post(topic, user)
    edit_post(post, paid="no", paid_by="", reason="The grant ended.")

    with pytest.raises(IntegrityError), transaction.atomic():
        PostRevision.objects.filter(post=post, number=2).update(reason="")

    assert PostRevision.objects.get(post=post, number=2).reason == "The grant ended."


def test_revision_numbers_are_unique_per_post(post):
    edit_post(post, body="Second version.")
    other = make_post(topic=post.topic)

    with pytest.raises(IntegrityError), transaction.atomic():
        PostRevision.objects.create(**revision_fields(post, number=2))
    # Another post's revisions count from 1 on their own.
    PostRevision.objects.create(**revision_fields(other, number=2))

    assert numbers(post) == [1, 2]
    assert numbers(other) == [2]


def test_revision_ai_rule_holds_on_update(post):
    edit_post(post, body="Second version.")

    with pytest.raises(IntegrityError), transaction.atomic():
        PostRevision.objects.filter(post=post, number=1).update(ai_maker="Anthropic")

    assert PostRevision.objects.get(post=post, number=1).ai_maker == ""


# The edit rate limit ------------------------------------------------------------------


def set_edit_rate(settings, text: str) -> None:
    settings.STANDPOINT_RATE_LIMITS = {**settings.STANDPOINT_RATE_LIMITS, "edit": text}


def test_second_edit_over_the_limit_is_429_with_the_text_kept(settings, author, post):
    set_edit_rate(settings, "1/h")
    assert author.post(edit_url(post), edit_data(post, body="First.")).status_code == (
        302
    )
    data = edit_data(post, body="A second *careful* edit.", tags="exploits")

    response = author.post(edit_url(post), data)

    assert response.status_code == 429
    wait = response["Retry-After"]
    assert wait.isdigit() and 3000 < int(wait) <= 3600
    assert notices(response) == [SLOW_DOWN.format(n=wait, s="s")]
    assert typed_back(response) == as_sent(data)
    post.refresh_from_db()
    assert post.body == "First."
    assert numbers(post) == [1, 2]


def test_refused_edit_does_not_use_up_the_limit(settings, author, topic, user):
    set_edit_rate(settings, "1/h")
    post = tied_post(topic, user)

    refused = author.post(edit_url(post), edit_data(post, paid="no", paid_by=""))
    accepted = author.post(
        edit_url(post), edit_data(post, paid="no", paid_by="", reason="Grant ended.")
    )

    assert refused.status_code == 200
    assert accepted.status_code == 302
    assert numbers(post) == [1, 2]


def test_moderator_is_exempt_from_the_edit_limit(settings, staff, post):
    set_edit_rate(settings, "1/h")

    for n in range(3):
        response = staff.post(
            edit_url(post),
            edit_data(post, body=f"Tidied {n}.", reason="Tidying.", attest=None),
        )
        assert response.status_code == 302

    assert numbers(post) == [1, 2, 3, 4]
