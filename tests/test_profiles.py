"""Profiles and disclosure defaults: the defaults page, the reply form they pre-fill,
the public profile with its history, and what those pages cost."""

import re
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from pytest_django.asserts import assertRedirects

from forum import services
from forum.models import (
    DisclosureDefaults,
    Post,
    PostStatus,
    ReplyPiece,
    StanceMapPiece,
    Topic,
)

from .browser_form import form_values
from .factories import edit_post, make_post, make_topic, make_user, stance
from .pages import (
    as_typed,
    field_errors,
    messages_shown,
    page,
    post_block,
    reply_url,
    shown_post_ids,
    signed_in,
    squash,
    summary_errors,
)
from .test_queries import (
    FIRST_VISIT,
    MAP_QUERIES,
    PIECE_QUERIES,
    THREAD_QUERIES_SIGNED_IN,
)

DEFAULTS_URL = "/accounts/profile/"
SAVED = "Your defaults are saved; your profile shows them."
UNCHANGED = "Nothing changed in your defaults."
PAYER_REQUIRED = "Say who pays you, or will."
PAYER_UNEXPECTED = "Leave “paid by” empty unless you are paid."
NULL_CHARACTERS = "Null characters are not allowed."
ATTEST_REQUIRED = "Confirm that your disclosure is complete and accurate."
ENDANGERS = "supports-ban-endangers-defenders"
NOT_ENDANGERS = "opposes-ban-endangers-defenders"
NOT_JUSTIFIED = "opposes-ban-is-justified"

# Profile, anonymous: the person; the page's post ids, their count; those posts
# with authors and topics, + stances, tags, conflict parties, topics' parties;
# the defaults; the AI agents the person runs. An edited post on the page adds
# its stance changes, once.
PROFILE_QUERIES = 10
PROFILE_QUERIES_EDITED = PROFILE_QUERIES + 1
# Signed in: + session and user, the header's unread count, and whether the
# reader blocks the person's notifications.
SIGNED_IN_QUERIES = 4
# Thread page, signed in, on an empty cache with no reply's piece stored
# (tests/test_queries.py): the page's and its replies' pieces.
THREAD_QUERIES_COLD = (
    THREAD_QUERIES_SIGNED_IN + PIECE_QUERIES + MAP_QUERIES + FIRST_VISIT
)
# Everything cached: session, user, the topic's stamp, the reader's defaults,
# their unread count with their place in the topic.
THREAD_QUERIES_WARM = 5
# The thread body cached, the reply fields not: + the form's stances and
# parties, + a first visit's place recorded.
THREAD_QUERIES_FIELDS_COLD = 8
# The reply page: session, user, topic, the defaults, the suspension, the form's
# stances and parties, the header's unread count.
REPLY_PAGE_QUERIES = 8


def interest_error(line: str) -> str:
    return (
        "Write each interest as “party: your tie to it”, e.g. “Anthropic: I hold "
        f"shares” (“{line}” is not)."
    )


def too_long(length: int) -> str:
    return f"Ensure this value has at most 2000 characters (it has {length})."


# Reading helpers ----------------------------------------------------------


def form_by(response, pattern: str) -> str:
    match = re.search(rf"<form[^>]*{pattern}.*?</form>", page(response), re.S)
    assert match, f"no form matching {pattern!r} on the page"
    return match.group(0)


def checked(html: str, name: str) -> list[str]:
    """Values of the checked radios or checkboxes `name`, an empty value included."""
    return [
        value
        for tag in re.findall(rf'<input [^>]*name="{name}"[^>]*>', html)
        if re.search(r"\bchecked\b", tag)
        for value in re.findall(r'value="([^"]*)"', tag)
    ]


def defaults_form(response) -> dict[str, list[str]]:
    """What the defaults form would send back, blanks left out.

    browser_form reads a checked radio with value="" as "on"; "paid" is read here.
    """
    html = form_by(response, f'action="{DEFAULTS_URL}"')
    values = form_values(html)
    values.pop("csrfmiddlewaretoken", None)
    values["paid"] = checked(html, "paid")
    return {name: v for name, v in values.items() if v and v != [""]}


def reply_form(response) -> dict[str, list[str]]:
    """What the reply form would send back as shown, blanks left out."""
    values = form_values(form_by(response, 'class="reply-form"'))
    values.pop("csrfmiddlewaretoken", None)
    return {name: v for name, v in values.items() if v != [""]}


def defaults_shown(response) -> dict:
    """The profile's current defaults and each earlier entry, as read."""
    current = re.search(
        r'<section aria-labelledby="defaults-title">.*?<p[^>]*>(.*?)</p>\s*'
        r'(<span class="defaults">.*?</span>)?',
        page(response),
        re.S,
    )
    earlier = re.search(
        r'<ol class="defaults-history">(.*?)</ol>', page(response), re.S
    )
    return {
        "intro": squash(current.group(1)),
        "current": squash(current.group(2) or ""),
        "earlier": [
            squash(item)
            for item in re.findall(
                r"<li>(.*?)</li>", earlier.group(1) if earlier else "", re.S
            )
        ],
    }


def topic_lines(response) -> list[str]:
    """The "In <topic>" line above each reply on a profile, in page order."""
    return [
        squash(line)
        for line in re.findall(r'<p class="in-topic">(.*?)</p>', page(response), re.S)
    ]


def disclosure_strip(fragment: str) -> str:
    match = re.search(r'<p class="disclosure[^"]*">(.*?)</p>', fragment, re.S)
    return squash(match.group(1)) if match else ""


def stance_badges(fragment: str) -> list[str]:
    return re.findall(r'<li class="stance \w+">(.*?)</li>', fragment)


def edit_links(response) -> list[str]:
    return re.findall(r'<a class="edit-link" href="([^"]*)">Edit</a>', page(response))


def at(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def set_defaults(user, **values) -> DisclosureDefaults:
    return services.user_set_defaults(user=user, **values)


def defaults_data(**changes) -> dict:
    return {
        "affiliation": "University of Nowhere",
        "paid": "expected",
        "paid_by": "A think tank",
        "interests": "Anthropic: I hold shares\nUS government: I consult for them",
        **changes,
    }


def stored_defaults(user) -> list[tuple]:
    return list(
        DisclosureDefaults.objects.filter(user=user)
        .order_by("created", "id")
        .values_list("affiliation", "paid", "paid_by", "interests")
    )


def lock(topic, moderator) -> None:
    services.topics_set_flag(
        topics=Topic.objects.filter(pk=topic.pk),
        flag="is_locked",
        value=True,
        actor=moderator,
        reason="Heated.",
    )


def hide(post, moderator) -> None:
    services.posts_set_status(
        posts=Post.objects.filter(pk=post.pk),
        status=PostStatus.HIDDEN,
        actor=moderator,
        reason="Off topic.",
    )


# The defaults page -----------------------------------------------------------


def test_defaults_page_sends_an_anonymous_reader_to_sign_in(csrf_client):
    response = csrf_client.get(DEFAULTS_URL)

    assertRedirects(
        response, f"/accounts/login/?next={DEFAULTS_URL}", fetch_redirect_response=False
    )


def test_anonymous_post_to_the_defaults_page_stores_nothing(csrf_client):
    response = csrf_client.post(DEFAULTS_URL, defaults_data())

    assertRedirects(
        response, f"/accounts/login/?next={DEFAULTS_URL}", fetch_redirect_response=False
    )
    assert not DisclosureDefaults.objects.exists()


def test_defaults_page_shows_an_empty_form_to_a_reader_without_defaults(user):
    response = signed_in(user).get(DEFAULTS_URL)

    assert response.status_code == 200
    assert defaults_form(response) == {}
    assert checked(form_by(response, f'action="{DEFAULTS_URL}"'), "paid") == [""]


def test_defaults_page_shows_the_current_defaults(user):
    set_defaults(user, affiliation="Old employer", paid="no")
    set_defaults(user, **defaults_data())

    response = signed_in(user).get(DEFAULTS_URL)

    assert response.status_code == 200
    assert defaults_form(response) == as_typed(defaults_data())


def test_saving_defaults_stores_a_row_and_redirects_to_the_profile(user):
    client = signed_in(user)

    response = client.post(DEFAULTS_URL, defaults_data())

    assertRedirects(response, f"/u/{user.username}/", fetch_redirect_response=False)
    assert stored_defaults(user) == [
        (
            "University of Nowhere",
            "expected",
            "A think tank",
            "Anthropic: I hold shares\nUS government: I consult for them",
        )
    ]
    profile = client.get(response.url)
    assert messages_shown(profile) == [SAVED]
    assert defaults_shown(profile)["current"] == (
        "Affiliation: University of Nowhere · Expects pay from A think tank · "
        "Standing interests: Anthropic (I hold shares); US government (I consult for them)"
    )


def test_saving_the_same_defaults_again_adds_no_row(user):
    client = signed_in(user)
    first = client.post(DEFAULTS_URL, defaults_data(), follow=True)
    assert messages_shown(first) == [SAVED]

    response = client.post(DEFAULTS_URL, defaults_data(), follow=True)

    assertRedirects(response, f"/u/{user.username}/")
    assert messages_shown(response) == [UNCHANGED]
    assert len(stored_defaults(user)) == 1


def test_saving_the_same_defaults_with_other_spacing_adds_no_row(user):
    client = signed_in(user)
    client.post(DEFAULTS_URL, defaults_data(), follow=True)
    spaced = defaults_data(
        affiliation="  University of Nowhere ",
        paid_by=" A think tank  ",
        interests="\n  Anthropic: I hold shares  \n\n   \nUS government: I consult for them\n\n",
    )

    response = client.post(DEFAULTS_URL, spaced, follow=True)

    assert messages_shown(response) == [UNCHANGED]
    assert len(stored_defaults(user)) == 1


def test_saved_defaults_are_trimmed_and_blank_interest_lines_dropped(user):
    data = {
        "affiliation": "  University of Nowhere\t",
        "paid": "yes",
        "paid_by": "   A lobby ",
        "interests": "\n\n  Anthropic: I hold shares   \n \n\t\nUS government: I consult\n  ",
    }

    response = signed_in(user).post(DEFAULTS_URL, data)

    assert response.status_code == 302
    assert stored_defaults(user) == [
        (
            "University of Nowhere",
            "yes",
            "A lobby",
            "Anthropic: I hold shares\nUS government: I consult",
        )
    ]


def test_blank_defaults_clear_earlier_ones_and_are_kept_as_a_new_row(user):
    client = signed_in(user)
    client.post(DEFAULTS_URL, defaults_data())

    response = client.post(
        DEFAULTS_URL, {"affiliation": "", "paid": "", "paid_by": "", "interests": ""}
    )

    assert response.status_code == 302
    assert stored_defaults(user)[-1] == ("", "", "", "")
    assert len(stored_defaults(user)) == 2
    assert services.user_defaults(user).affiliation == ""


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"paid": "yes", "paid_by": ""}, "paid_by", PAYER_REQUIRED),
        ({"paid": "expected", "paid_by": "   "}, "paid_by", PAYER_REQUIRED),
        ({"paid": "no", "paid_by": "A lobby"}, "paid_by", PAYER_UNEXPECTED),
        ({"paid": "", "paid_by": "A lobby"}, "paid_by", PAYER_UNEXPECTED),
        (
            {"interests": "Anthropic: I hold shares\nUS government because I consult"},
            "interests",
            interest_error("US government because I consult"),
        ),
        ({"interests": "Anthropic:   "}, "interests", interest_error("Anthropic:")),
        (
            {"interests": ": I hold shares"},
            "interests",
            interest_error(": I hold shares"),
        ),
        (
            {"interests": "Anthropic: " + "x" * 1990},
            "interests",
            too_long(2001),
        ),
        ({"affiliation": "Uni\x00versity"}, "affiliation", NULL_CHARACTERS),
        ({"paid": "yes", "paid_by": "A\x00lobby"}, "paid_by", NULL_CHARACTERS),
        ({"interests": "Anthropic: I hold\x00shares"}, "interests", NULL_CHARACTERS),
    ],
    ids=[
        "paid-without-payer",
        "expected-with-blank-payer",
        "payer-while-not-paid",
        "payer-without-answer",
        "interest-without-colon",
        "interest-without-tie",
        "interest-without-party",
        "interests-too-long",
        "nul-in-affiliation",
        "nul-in-paid-by",
        "nul-in-interests",
    ],
)
def test_refused_defaults_show_the_error_by_its_field_keep_the_text_and_store_nothing(
    user, changes, field, message
):
    set_defaults(user, affiliation="Before", paid="no")
    before = stored_defaults(user)
    data = defaults_data(**changes)

    response = signed_in(user).post(DEFAULTS_URL, data)

    assert response.status_code == 200
    assert field_errors(response, field) == [message]
    assert summary_errors(response).startswith(
        "Please fix 1 problem below; everything you typed is still here. "
    )
    assert message in summary_errors(response)  # linked to its field
    assert defaults_form(response) == as_typed(data)
    assert stored_defaults(user) == before


def test_unknown_paid_answer_is_refused_and_nothing_stored(user):
    data = defaults_data(paid="maybe", paid_by="")

    response = signed_in(user).post(DEFAULTS_URL, data)

    assert response.status_code == 200
    assert field_errors(response, "paid") == [
        "Select a valid choice. maybe is not one of the available choices."
    ]
    assert defaults_form(response)["interests"] == [data["interests"]]
    assert stored_defaults(user) == []


# Database constraints --------------------------------------------------------


@pytest.mark.parametrize(
    ("paid", "paid_by", "message"),
    [
        ("maybe", "", "Value 'maybe' is not a valid choice."),
        ("yes", "", "Say who pays when you are paid, and no one otherwise."),
        ("expected", " \t\n", "Say who pays when you are paid, and no one otherwise."),
        ("no", "A lobby", "Say who pays when you are paid, and no one otherwise."),
        ("", "A lobby", "Say who pays when you are paid, and no one otherwise."),
    ],
)
def test_database_refuses_defaults_whose_pay_answers_do_not_match(
    user, paid, paid_by, message
):
    defaults = DisclosureDefaults(user=user, paid=paid, paid_by=paid_by)

    with pytest.raises(ValidationError) as refused:
        defaults.full_clean()
    assert message in refused.value.messages
    with pytest.raises(IntegrityError), transaction.atomic():
        DisclosureDefaults.objects.create(user=user, paid=paid, paid_by=paid_by)
    assert not DisclosureDefaults.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [{"paid": "sometimes"}, {"paid_by": ""}, {"paid": "no"}],
    ids=["invalid-paid", "paid-yes-without-payer", "paid-no-with-payer"],
)
def test_database_refuses_an_update_that_breaks_the_pay_answers(user, changes):
    defaults = DisclosureDefaults.objects.create(
        user=user, paid="yes", paid_by="A lobby"
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        DisclosureDefaults.objects.filter(pk=defaults.pk).update(**changes)

    defaults.refresh_from_db()
    assert (defaults.paid, defaults.paid_by) == ("yes", "A lobby")


@pytest.mark.parametrize(
    ("paid", "paid_by"), [("", ""), ("no", ""), ("yes", "A lobby"), ("expected", "X")]
)
def test_database_accepts_defaults_whose_pay_answers_match(user, paid, paid_by):
    DisclosureDefaults(user=user, paid=paid, paid_by=paid_by).full_clean()
    DisclosureDefaults.objects.create(user=user, paid=paid, paid_by=paid_by)

    assert stored_defaults(user) == [("", paid, paid_by, "")]


# The reply form, pre-filled ---------------------------------------------------


@pytest.fixture(params=["thread", "reply page"])
def form_url(request):
    """Both places the reply form is shown: under the thread and on its own page."""
    if request.param == "thread":
        return lambda topic: topic.get_absolute_url()
    return reply_url


def test_reply_form_is_prefilled_from_the_latest_defaults(user, topic, form_url):
    set_defaults(user, affiliation="Old employer", paid="no")
    set_defaults(
        user, affiliation="University of Nowhere", paid="yes", paid_by="A lobby"
    )

    response = signed_in(user).get(form_url(topic))

    assert response.status_code == 200
    assert reply_form(response) == {
        "affiliation": ["University of Nowhere"],
        "paid": ["yes"],
        "paid_by": ["A lobby"],
    }


def test_reply_form_without_defaults_starts_empty(user, topic, form_url):
    response = signed_in(user).get(form_url(topic))

    assert response.status_code == 200
    assert reply_form(response) == {}


@pytest.mark.parametrize(
    "interest",
    [
        "Anthropic: I hold shares",
        "anthropic: I hold shares",
        "Anthropic PBC: I hold shares",
        "anthropic pbc: I hold shares",
        "ANTHROPIC PBC  :  I hold shares",
    ],
)
def test_interest_in_a_party_of_the_topic_prefills_the_conflict(
    user, topic, form_url, interest
):
    set_defaults(user, affiliation="none", paid="no", interests=interest)

    response = signed_in(user).get(form_url(topic))

    assert reply_form(response) == {
        "affiliation": ["none"],
        "paid": ["no"],
        "conflict": ["declared"],
        "conflict_parties": ["anthropic"],
        "conflict_details": ["Anthropic: I hold shares"],
    }


def test_interests_in_two_parties_prefill_both_and_skip_other_parties(
    user, topic, form_url
):
    set_defaults(
        user,
        interests="Amazon: I hold shares\nUS government: I consult\n"
        "anthropic pbc: I hold shares",
    )

    response = signed_in(user).get(form_url(topic))

    assert reply_form(response) == {
        "conflict": ["declared"],
        "conflict_parties": ["anthropic", "us-government"],
        "conflict_details": ["US government: I consult; Anthropic: I hold shares"],
    }


def test_interest_in_a_party_the_topic_does_not_have_prefills_no_conflict(
    user, topic, other_topic, form_url
):
    set_defaults(user, affiliation="none", interests="Amazon: I hold shares")

    here = signed_in(user).get(form_url(topic))
    there = signed_in(user).get(form_url(other_topic))

    assert reply_form(here) == {"affiliation": ["none"]}
    assert reply_form(there) == {
        "affiliation": ["none"],
        "conflict": ["declared"],
        "conflict_parties": ["amazon"],
        "conflict_details": ["Amazon: I hold shares"],
    }


def test_prefilled_reply_still_needs_the_attestation(user, topic, form_url):
    set_defaults(
        user,
        affiliation="University of Nowhere",
        paid="yes",
        paid_by="A lobby",
        interests="Anthropic: I hold shares",
    )
    client = signed_in(user)
    shown = reply_form(client.get(form_url(topic)))
    assert "attest" not in shown
    data = {**shown, "body": "My view.", "stances": [ENDANGERS], "authorship": "human"}

    refused = client.post(reply_url(topic), data)

    assert refused.status_code == 200
    assert field_errors(refused, "attest") == [ATTEST_REQUIRED]
    assert reply_form(refused) == as_typed(data)
    assert not Post.objects.exists()

    response = client.post(reply_url(topic), {**data, "attest": "on"})

    post = Post.objects.get()
    assertRedirects(response, f"/p/{post.pk}/", fetch_redirect_response=False)
    assert (post.affiliation, post.paid, post.paid_by, post.conflict) == (
        "University of Nowhere",
        "yes",
        "A lobby",
        "declared",
    )
    assert post.conflict_details == "Anthropic: I hold shares"
    assert [p.slug for p in post.conflict_parties.all()] == ["anthropic"]


def test_two_readers_each_see_their_own_defaults_on_the_thread_page(topic):
    alice, bob, carol = make_user(), make_user(), make_user()
    set_defaults(alice, affiliation="Alpha University", interests="Anthropic: shares")
    set_defaults(bob, affiliation="Beta Institute", paid="yes", paid_by="Beta Fund")
    url = topic.get_absolute_url()

    first = signed_in(alice).get(url)
    second = signed_in(bob).get(url)
    third = signed_in(carol).get(url)
    again = signed_in(alice).get(url)

    assert reply_form(first) == {
        "affiliation": ["Alpha University"],
        "conflict": ["declared"],
        "conflict_parties": ["anthropic"],
        "conflict_details": ["Anthropic: shares"],
    }
    assert reply_form(second) == {
        "affiliation": ["Beta Institute"],
        "paid": ["yes"],
        "paid_by": ["Beta Fund"],
    }
    assert "Alpha University" not in page(second)
    assert reply_form(third) == {}
    assert "Alpha University" not in page(third)
    assert "Beta Institute" not in page(third)
    assert reply_form(again) == reply_form(first)


def test_changed_defaults_show_on_the_thread_page_at_once(user, topic):
    client = signed_in(user)
    url = topic.get_absolute_url()
    client.post(DEFAULTS_URL, defaults_data(affiliation="Alpha University"))
    assert reply_form(client.get(url))["affiliation"] == ["Alpha University"]

    client.post(
        DEFAULTS_URL,
        {"affiliation": "Beta Institute", "paid": "no", "paid_by": "", "interests": ""},
    )
    changed = client.get(url)
    client.post(DEFAULTS_URL, defaults_data(affiliation="Alpha University"))
    back = client.get(url)

    assert reply_form(changed) == {"affiliation": ["Beta Institute"], "paid": ["no"]}
    assert reply_form(back)["affiliation"] == ["Alpha University"]


# The profile page ------------------------------------------------------------


def test_profile_of_an_unknown_user_is_404(client, db):
    assert client.get("/u/nobody-here/").status_code == 404


def test_profile_lists_published_replies_newest_first_with_topic_stances_and_disclosure(
    client, topic, other_topic
):
    author = make_user()
    # Made first, dated later: the order follows `created`, not ids.
    newer = make_post(
        topic=other_topic,
        author=author,
        body="Newer.",
        stances=[stance(other_topic, "opposes-export-rules-work")],
    )
    older = make_post(
        topic=topic,
        author=author,
        body="Older.",
        stances=[stance(topic, ENDANGERS), stance(topic, NOT_JUSTIFIED)],
        authorship="ai_assisted",
        ai_model="Claude",
        ai_maker="Anthropic",
        paid="yes",
        paid_by="A lobby",
        conflict="declared",
        conflict_parties=list(topic.parties.filter(slug="us-government")),
        conflict_details="I consult for them.",
    )
    someone_elses = make_post(topic=topic)
    Post.objects.filter(pk=older.pk).update(created=at(2024, 3, 1, 9, 0))
    Post.objects.filter(pk=newer.pk).update(created=at(2024, 5, 1, 9, 0))

    response = client.get(f"/u/{author.username}/")

    assert response.status_code == 200
    assert shown_post_ids(response) == [newer.pk, older.pk]
    assert someone_elses.pk not in shown_post_ids(response)
    assert topic_lines(response) == ["In Another debate", f"In {topic.title}"]
    assert f'<a href="/t/{other_topic.slug}/">Another debate</a>' in page(response)
    assert stance_badges(post_block(response, older)) == [
        "Supports: The ban endangers defenders",
        "Opposes: The ban is justified",
    ]
    assert stance_badges(post_block(response, newer)) == ["Opposes: Export rules work"]
    assert disclosure_strip(post_block(response, older)) == (
        "Disclosure: AI-assisted with Claude (Anthropic) — Anthropic is a party to "
        "this debate · Affiliation: none · Paid by A lobby · Declared conflict with "
        "US government: I consult for them."
    )
    assert disclosure_strip(post_block(response, newer)) == (
        "Disclosure: Human-written · Affiliation: none · Not paid · "
        "No declared conflicts"
    )
    assert "2 replies." in squash(page(response))


@pytest.mark.parametrize("viewer", ["anonymous", "owner", "moderator"])
def test_profile_leaves_out_hidden_replies_for_everyone(
    client, topic, moderator, viewer
):
    author = make_user()
    shown = make_post(topic=topic, author=author, body="Kept.")
    hidden = make_post(topic=topic, author=author, body="Hidden away.")
    hide(hidden, moderator)
    if viewer != "anonymous":
        client.force_login(author if viewer == "owner" else moderator)

    response = client.get(f"/u/{author.username}/")

    assert response.status_code == 200
    assert shown_post_ids(response) == [shown.pk]
    assert "Hidden away." not in page(response)
    assert "1 reply." in squash(page(response))


def test_profile_shows_the_current_defaults_and_every_earlier_one_with_its_date(user):
    client = signed_in(user)
    client.post(DEFAULTS_URL, {"affiliation": "Alpha University", "paid": "no"})
    client.post(DEFAULTS_URL, defaults_data())
    client.post(DEFAULTS_URL, defaults_data())  # unchanged: no entry
    client.post(DEFAULTS_URL, {"affiliation": "", "paid": "", "interests": ""})
    rows = DisclosureDefaults.objects.filter(user=user).order_by("created", "id")
    for row, when in zip(
        rows,
        [at(2024, 3, 1, 9, 30), at(2024, 6, 15, 14, 5), at(2025, 1, 2, 8, 0)],
        strict=True,
    ):
        DisclosureDefaults.objects.filter(pk=row.pk).update(created=when)

    response = client.get(f"/u/{user.username}/")

    assert defaults_shown(response) == {
        "intro": f"What {user.username} declares by default (set 2 Jan 2025, 08:00 "
        "UTC); each reply is still confirmed on its own.",
        "current": "Affiliation: not given · Pay: not given · No standing interests",
        "earlier": [
            "Set 15 Jun 2024, 14:05 UTC: Affiliation: University of Nowhere · "
            "Expects pay from A think tank · Standing interests: Anthropic (I hold "
            "shares); US government (I consult for them)",
            "Set 1 Mar 2024, 09:30 UTC: Affiliation: Alpha University · Not paid · "
            "No standing interests",
        ],
    }
    assert (
        '<time datetime="2024-06-15T14:05:00+00:00">15 Jun 2024, 14:05 UTC</time>'
        in page(response)
    )


def test_profile_of_a_reader_without_defaults_says_so(client, user):
    theirs = client.get(f"/u/{user.username}/")
    own = signed_in(user).get(f"/u/{user.username}/")

    assert defaults_shown(theirs) == {
        "intro": f"{user.username} has no disclosure defaults.",
        "current": "",
        "earlier": [],
    }
    assert defaults_shown(own)["intro"] == "You have no disclosure defaults."
    assert f'<a href="{DEFAULTS_URL}">' in page(own)
    assert f'<a href="{DEFAULTS_URL}">' not in page(theirs)


def test_profile_paginates_replies_at_the_configured_page_size(client, topic, settings):
    settings.STANDPOINT_POSTS_PER_PAGE = 2
    author = make_user()
    posts = [
        make_post(topic=topic, author=author, body=f"Reply {n}.") for n in range(5)
    ]
    for n, post in enumerate(posts):
        Post.objects.filter(pk=post.pk).update(created=at(2024, 1, 1 + n, 12, 0))
    url = f"/u/{author.username}/"

    pages = [client.get(url), client.get(f"{url}?page=2"), client.get(f"{url}?page=3")]

    assert [shown_post_ids(r) for r in pages] == [
        [posts[4].pk, posts[3].pk],
        [posts[2].pk, posts[1].pk],
        [posts[0].pk],
    ]
    assert "Page 2 of 3" in squash(page(pages[1]))
    assert '<a rel="next" href="?page=2">Older →</a>' in page(pages[0])
    assert client.get(f"{url}?page=4").status_code == 404


def test_profile_shows_edit_links_only_on_the_viewers_own_posts_outside_locked_topics(
    client, topic, moderator
):
    author, other = make_user(), make_user()
    locked_topic = make_topic()
    open_post = make_post(topic=topic, author=author, body="Open.")
    locked_post = make_post(topic=locked_topic, author=author, body="Locked.")
    lock(locked_topic, moderator)
    url = f"/u/{author.username}/"

    as_author = signed_in(author).get(url)
    as_other = signed_in(other).get(url)
    as_anonymous = client.get(url)
    as_staff = signed_in(moderator).get(url)

    assert edit_links(as_author) == [f"/p/{open_post.pk}/edit/"]
    assert edit_links(as_other) == []
    assert edit_links(as_anonymous) == []
    assert sorted(edit_links(as_staff)) == sorted(
        [f"/p/{open_post.pk}/edit/", f"/p/{locked_post.pk}/edit/"]
    )


@pytest.mark.parametrize(
    "username", ["ann.o+test-1@example.org", "a-b", "x+y", "first.last", "@home"]
)
def test_usernames_with_at_dot_plus_and_dash_have_working_profiles(
    client, topic, username
):
    person = make_user(username=username)
    post = make_post(topic=topic, author=person)
    set_defaults(person, affiliation="Uni")

    response = client.get(f"/u/{username}/")
    thread = client.get(topic.get_absolute_url())
    own = signed_in(person).get(DEFAULTS_URL)

    assert response.status_code == 200
    assert f"<h1>{username}</h1>" in page(response)
    assert shown_post_ids(response) == [post.pk]
    assert f'<a class="author-link" href="/u/{username}/">' in post_block(thread, post)
    assert f'<a href="/u/{username}/">← Your profile</a>' in page(own)
    saved = signed_in(person).post(DEFAULTS_URL, {"affiliation": "Other"})
    assertRedirects(saved, f"/u/{username}/", fetch_redirect_response=False)


# Links to profiles -----------------------------------------------------------


def test_author_names_in_the_thread_link_to_their_profiles(client, topic):
    first, second = make_user(), make_user()
    one = make_post(topic=topic, author=first)
    two = make_post(topic=topic, author=second)

    response = client.get(topic.get_absolute_url())

    for post, author in ((one, first), (two, second)):
        assert (
            f'<a class="author-link" href="/u/{author.username}/">'
            f'<strong class="author"><bdi>{author.username}</bdi></strong></a>'
        ) in post_block(response, post)


def test_site_header_links_the_signed_in_reader_to_their_profile(client, user, topic):
    signed = signed_in(user).get(topic.get_absolute_url())
    anonymous = client.get(topic.get_absolute_url())

    assert (
        f'Signed in as <a href="/u/{user.username}/"><strong>{user.username}</strong></a>'
    ) in page(signed)
    assert "Signed in as" not in page(anonymous)


# What the pages cost -----------------------------------------------------------


def add_replies(author, count: int, topics) -> list[Post]:
    """`count` replies by `author` across `topics`, with every part a reply can show."""
    kinds = [
        {"tags": ["exploits", "open source"]},
        {"authorship": "ai_generated", "ai_model": "Claude", "ai_maker": "Anthropic"},
        {
            "paid": "yes",
            "paid_by": "A lobby",
            "conflict": "declared",
            "conflict_details": "I advise them.",
            "with_parties": True,
        },
        {
            "authorship": "ai_polished",
            "ai_model": "GPT-4o",
            "ai_maker": "OpenAI",
            "paid": "expected",
            "paid_by": "A think tank",
            "tags": ["policy"],
        },
    ]
    posts = []
    for n in range(count):
        topic = topics[n % len(topics)]
        kind = dict(kinds[n % len(kinds)])
        if kind.pop("with_parties", False):
            kind["conflict_parties"] = list(topic.parties.all())
        posts.append(make_post(topic=topic, author=author, body=f"Reply {n}.", **kind))
    return posts


def edit_many_times(post, times: int) -> None:
    """Edit `post` `times` times, changing its stance on every other edit."""
    topic = post.topic
    for n in range(times):
        slug = NOT_ENDANGERS if n % 2 == 0 else ENDANGERS
        changes = {"body": f"Version {n + 2}."}
        if n % 4 < 2:
            changes["stances"] = [stance(topic, slug)]
        edit_post(post, **changes)


def profile_cost(client, author, assert_max, budget) -> int:
    with assert_max(budget) as ctx:
        response = client.get(f"/u/{author.username}/")
    assert response.status_code == 200
    return len(ctx)


@pytest.fixture(params=["anonymous", "signed in"])
def viewer(request, client, db):
    """A client, anonymous then signed in, with the profile's extra queries for it."""
    extra = 0
    if request.param == "signed in":
        client.force_login(make_user())
        extra = SIGNED_IN_QUERIES
    return client, extra


def test_profile_costs_the_same_for_1_and_15_replies(
    viewer, topic, other_topic, django_assert_max_num_queries
):
    client, extra = viewer
    few, many = make_user(), make_user()
    for person in (few, many):
        set_defaults(person, affiliation="Uni", interests="Anthropic: I hold shares")
        set_defaults(person, affiliation="Uni 2", paid="no")
    add_replies(few, 1, [topic])
    add_replies(many, 15, [topic, other_topic, make_topic()])
    budget = PROFILE_QUERIES + extra

    counts = [
        profile_cost(client, person, django_assert_max_num_queries, budget)
        for person in (few, many)
    ]

    assert counts == [budget, budget]


def test_profile_costs_the_same_for_posts_edited_once_and_ten_times(
    viewer, topic, other_topic, django_assert_max_num_queries
):
    client, extra = viewer
    once, often = make_user(), make_user()
    for person, times in ((once, 1), (often, 10)):
        for post in add_replies(person, 4, [topic, other_topic]):
            edit_many_times(post, times)
    budget = PROFILE_QUERIES_EDITED + extra

    counts = [
        profile_cost(client, person, django_assert_max_num_queries, budget)
        for person in (once, often)
    ]

    assert counts == [budget, budget]
    trail = re.findall(
        r'<ul class="stance-trail".*?</ul>',
        page(client.get(f"/u/{often.username}/")),
        re.S,
    )
    assert len(trail) == 4


def thread_cost(client, topic, assert_max, budget) -> int:
    with assert_max(budget) as ctx:
        response = client.get(topic.get_absolute_url())
    assert response.status_code == 200
    return len(ctx)


@pytest.fixture
def readers(topic, db):
    """A reader without defaults and one whose defaults name a party of `topic`."""
    add_replies(make_user(), 6, [topic])
    plain, tied = make_user(), make_user()
    set_defaults(
        tied,
        affiliation="Uni",
        paid="yes",
        paid_by="A lobby",
        interests="Anthropic: I hold shares\nAmazon: I advise them",
    )
    return signed_in(plain), signed_in(tied)


def test_thread_page_on_an_empty_cache_costs_a_reader_with_defaults_the_same(
    readers, topic, django_assert_max_num_queries
):
    counts = []
    for client in readers:
        for alias in settings.CACHES:
            caches[alias].clear()
        ReplyPiece.objects.all().delete()
        StanceMapPiece.objects.all().delete()
        counts.append(
            thread_cost(
                client, topic, django_assert_max_num_queries, THREAD_QUERIES_COLD
            )
        )

    assert counts == [THREAD_QUERIES_COLD, THREAD_QUERIES_COLD]


def test_cached_thread_page_costs_a_reader_with_defaults_the_same(
    readers, topic, django_assert_max_num_queries
):
    for client in readers:
        client.get(topic.get_absolute_url())

    counts = [
        thread_cost(client, topic, django_assert_max_num_queries, THREAD_QUERIES_WARM)
        for client in readers
    ]

    assert counts == [THREAD_QUERIES_WARM, THREAD_QUERIES_WARM]


def test_thread_page_with_the_thread_cached_costs_a_reader_with_defaults_the_same(
    readers, topic, django_assert_max_num_queries
):
    # A third reader caches the thread body, and reply fields of their own
    # defaults: both readers' reply fields are still to be rendered.
    warming = make_user()
    set_defaults(warming, affiliation="Elsewhere")
    signed_in(warming).get(topic.get_absolute_url())

    counts = [
        thread_cost(
            client, topic, django_assert_max_num_queries, THREAD_QUERIES_FIELDS_COLD
        )
        for client in readers
    ]

    # Matching interests to the topic's parties reads the parties the cached
    # topic holds, however many interest lines there are: no query.
    assert counts == [THREAD_QUERIES_FIELDS_COLD, THREAD_QUERIES_FIELDS_COLD]


def test_reply_page_costs_a_reader_with_five_standing_interests_the_same(
    topic, django_assert_max_num_queries
):
    plain, one, five = make_user(), make_user(), make_user()
    set_defaults(one, interests="Anthropic: I hold shares")
    set_defaults(
        five,
        interests="\n".join(
            ["Anthropic: I hold shares", "US government: I consult"]
            + [f"Company {n}: I advise them" for n in range(3)]
        ),
    )

    counts = []
    for client in (signed_in(plain), signed_in(one), signed_in(five)):
        with django_assert_max_num_queries(REPLY_PAGE_QUERIES + 1) as ctx:
            response = client.get(reply_url(topic))
        assert response.status_code == 200
        counts.append(len(ctx))

    # Defaults with interests read the topic's parties once, for every line.
    assert counts == [
        REPLY_PAGE_QUERIES,
        REPLY_PAGE_QUERIES + 1,
        REPLY_PAGE_QUERIES + 1,
    ]


# A long history of defaults --------------------------------------------------------


def test_profile_shows_the_latest_defaults_and_links_to_every_version(
    client, settings, user
):
    settings.STANDPOINT_POSTS_PER_PAGE = 5
    for n in range(1, 10):
        set_defaults(user, affiliation=f"Employer {n}")

    profile = squash(page(client.get(f"/u/{user.username}/")))
    listing = client.get(f"/u/{user.username}/defaults/")
    older = client.get(f"/u/{user.username}/defaults/?page=2")

    assert "Affiliation: Employer 9" in profile
    assert "Affiliation: Employer 4" in profile
    assert "Affiliation: Employer 3" not in profile
    assert f"All 9 versions of {user.username}’s defaults" in profile
    shown = re.findall(r"Affiliation: (Employer \d)", page(listing))
    assert shown == [f"Employer {n}" for n in (9, 8, 7, 6, 5)]
    assert re.findall(r"Affiliation: (Employer \d)", page(older)) == [
        f"Employer {n}" for n in (4, 3, 2, 1)
    ]
    assert client.get(f"/u/{user.username}/defaults/?page=3").status_code == 404
    assert client.get("/u/nobody-here/defaults/").status_code == 404


def test_saving_defaults_too_often_is_refused_with_what_was_typed(settings, user):
    settings.STANDPOINT_RATE_LIMITS = {
        **settings.STANDPOINT_RATE_LIMITS,
        "defaults": "1/h",
    }
    client = signed_in(user)
    client.post("/accounts/profile/", defaults_data())

    response = client.post("/accounts/profile/", defaults_data(affiliation="Acme"))

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert 'value="Acme"' in page(response)
    assert DisclosureDefaults.objects.filter(user=user).count() == 1
