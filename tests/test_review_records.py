"""Disclosure review states and the disclosure as a record: strip, admin, history, data."""

import json
import re
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone
from pytest_django.asserts import assertContains, assertTemplateUsed

from forum import services
from forum.history import LINE_DIFF_MAX_PAIRS, WORD_DIFF_MAX_TOKENS, text_diff
from forum.models import (
    ModerationAction,
    ModerationKind,
    Post,
    PostStatus,
    Report,
    ReportStatus,
    ReviewState,
)

from .conftest import CsrfClient
from .factories import edit_post, make_post, make_topic, make_user, stance
from .pages import messages_shown, page, post_block, signed_in, squash
from .test_queries import MAP_QUERIES, PIECE_QUERIES, THREAD_QUERIES_ANONYMOUS

POSTS = "/admin/forum/post/"
QUEUE = "/admin/forum/reportedpost/"
REASON_PAGE = "admin/forum/action_reason.html"
REASON_REQUIRED = "Give a reason: the public moderation log shows it."
EVIDENCE_RULE = "an AI-detector score or a writing style alone is never enough"
LABEL_REFUSED = "A label is added by editing the post’s disclosure."
REVIEW_DAY = datetime(2025, 12, 3, 9, 30, tzinfo=UTC)
AI = {"authorship": "ai_generated", "ai_model": "Claude", "ai_maker": "Anthropic"}
JSONLD = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.S)
SOURCE_TYPES = {
    "ai_polished": "https://schema.org/AlgorithmicallyEnhancedDigitalSource",
    "ai_assisted": "https://schema.org/CompositeWithTrainedAlgorithmicMediaDigitalSource",
    "ai_generated": "https://schema.org/TrainedAlgorithmicMediaDigitalSource",
}
REVIEW_KINDS = {
    "verified": ModerationKind.VERIFY_DISCLOSURE,
    "disputed": ModerationKind.DISPUTE_DISCLOSURE,
    "corrected": ModerationKind.CORRECT_DISCLOSURE,
    "self_declared": ModerationKind.CLEAR_REVIEW,
}
# Anonymous, replies and a stance map not shown before (tests/test_queries.py),
# and one for the stance trails of the edited posts rendered, however many
# revisions they have.
THREAD_QUERIES_EDITED = THREAD_QUERIES_ANONYMOUS + PIECE_QUERIES + MAP_QUERIES + 1
# The post with its topic and author, its stances and their positions, tags,
# conflict parties and the topic's parties; then how many versions it has, and
# the page of them shown, with their editors.
HISTORY_QUERIES = 8
DISCLOSURE_JSON_QUERIES = 8


# Helpers --------------------------------------------------------------------


def review(posts, state, actor, note):
    return services.posts_review(
        posts=Post.objects.filter(pk__in=[post.pk for post in posts]),
        state=state,
        actor=actor,
        note=note,
    )


def review_fields(post) -> tuple:
    post.refresh_from_db()
    return (post.review_state, post.reviewed_by, post.reviewed_at, post.review_note)


def log_ids() -> set[int]:
    return set(ModerationAction.objects.values_list("pk", flat=True))


def new_log_rows(before: set[int]) -> list[ModerationAction]:
    return list(
        ModerationAction.objects.exclude(pk__in=before).order_by("created", "id")
    )


def review_words(response, post) -> str:
    """The review part of `post`'s disclosure strip, as read; "" when there is none."""
    match = re.search(
        r'<strong class="review">(.*?)</strong>', post_block(response, post), re.S
    )
    return squash(match.group(1)) if match else ""


def strip_text(response, post) -> str:
    match = re.search(r'<p class="disclosure.*?</p>', post_block(response, post), re.S)
    assert match, "no disclosure strip on the post"
    return squash(match.group(0))


def reviewed_on_day(post, state, actor, note):
    """`post` given `state` with `note`, reviewed on REVIEW_DAY."""
    if state == "moderator_labelled":
        edit_post(post, editor=actor, reason=note, **AI)
    else:
        review([post], state, actor, note)
    Post.objects.filter(pk=post.pk).update(reviewed_at=REVIEW_DAY)


def ask_reason(client, url, action, objects):
    """The first click on an admin action: the page that asks why."""
    chosen = [obj.pk for obj in objects]
    return client.post(url, {"action": action, "_selected_action": chosen, "index": 0})


def confirm(client, url, action, objects, reason, **extra):
    """The confirming POST from the reason page."""
    chosen = [obj.pk for obj in objects]
    data = {"action": action, "_selected_action": chosen, "reason": reason}
    return client.post(url, data, **extra)


def log_entries(response) -> list[tuple[str, str, str]]:
    """(what, target, reason) of each entry of the public moderation log."""
    entries = []
    for item in re.findall(
        r'<li class="modlog-entry[^"]*">(.*?)</li>', page(response), re.S
    ):

        def part(pattern: str, item=item) -> str:
            match = re.search(pattern, item, re.S)
            return squash(match.group(1)) if match else ""

        entries.append(
            (
                part(r'<span class="what">(.*?)</span>'),
                part(r'<span class="target">(.*?)</span>'),
                part(r'<p class="reason">(.*?)</p>'),
            )
        )
    return entries


def jsonld(response) -> list[dict]:
    return [json.loads(text) for text in JSONLD.findall(page(response))]


def thread_data(response) -> dict:
    documents = jsonld(response)
    assert len(documents) == 1, "one JSON-LD document per thread page"
    return documents[0]


def comment_of(data: dict, post) -> dict:
    found = [c for c in data["comment"] if c["@id"] == f"/p/{post.pk}/"]
    assert len(found) == 1, f"no single Comment for post {post.pk}"
    return found[0]


def hide(post, actor, reason="Insults, not argument."):
    services.posts_set_status(
        posts=Post.objects.filter(pk=post.pk),
        status=PostStatus.HIDDEN,
        actor=actor,
        reason=reason,
    )


def flip_stance(post, i: int):
    """Edit `post` by its author: a new body and, each time, the other stance."""
    slug = "supports" if i % 2 else "opposes"
    return edit_post(
        post,
        body=f"Version {i + 2} of reply {post.pk}.",
        stances=[stance(post.topic, f"{slug}-ban-endangers-defenders")],
    )


def edited_times(post, edits: int):
    for i in range(edits):
        flip_stance(post, i)
    assert post.revisions.count() == edits + 1
    return post


def clear_caches():
    for alias in settings.CACHES:
        caches[alias].clear()


def count_get(assert_max, client, url, budget) -> int:
    with assert_max(budget) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx)


# Fixtures ---------------------------------------------------------------------


@pytest.fixture
def superuser(db):
    return make_user(username="root", is_staff=True, is_superuser=True)


@pytest.fixture(params=["superuser", "moderator"])
def staff(request, db):
    """A CSRF-checked client signed in as a superuser, then as a Moderators member."""
    user = request.getfixturevalue(request.param)
    client = signed_in(user)
    client.user = user
    return client


# posts_review -------------------------------------------------------------------


@pytest.mark.parametrize("state", ["verified", "disputed", "corrected"])
def test_review_records_reviewer_time_and_note_and_logs_each_post(
    topic, moderator, state
):
    first, second = make_post(topic=topic), make_post(topic=topic)
    before = log_ids()
    start = timezone.now()

    changed = review([first, second], state, moderator, "  The author said so.  ")

    assert changed == 2
    for post in (first, second):
        found_state, reviewer, when, note = review_fields(post)
        assert (found_state, reviewer, note) == (
            state,
            moderator,
            "The author said so.",
        )
        assert start <= when <= timezone.now()
    assert sorted(
        (row.action, row.post_id, row.topic_id, row.actor, row.reason)
        for row in new_log_rows(before)
    ) == sorted(
        (REVIEW_KINDS[state], post.pk, topic.pk, moderator, "The author said so.")
        for post in (first, second)
    )


def test_clearing_a_review_empties_reviewer_time_and_note_and_is_logged(
    topic, moderator
):
    post = make_post(topic=topic)
    review([post], "disputed", moderator, "Works for a vendor.")
    before = log_ids()

    changed = review([post], "self_declared", moderator, "The vendor link was wrong.")

    assert changed == 1
    assert review_fields(post) == ("self_declared", None, None, "")
    assert [
        (row.action, row.post_id, row.actor, row.reason) for row in new_log_rows(before)
    ] == [("clear_review", post.pk, moderator, "The vendor link was wrong.")]


def test_review_skips_posts_already_in_that_state_with_that_note(topic, moderator):
    done, other = make_post(topic=topic), make_post(topic=topic)
    review([done], "verified", moderator, "Checked with the author.")
    done_before = review_fields(done)
    before = log_ids()

    changed = review([done, other], "verified", moderator, "Checked with the author.")

    assert changed == 1
    assert review_fields(done) == done_before
    assert review_fields(other)[0::3] == ("verified", "Checked with the author.")
    assert [(row.action, row.post_id) for row in new_log_rows(before)] == [
        ("verify_disclosure", other.pk)
    ]


def test_review_with_a_new_note_updates_a_post_in_the_same_state(topic, moderator):
    post = make_post(topic=topic)
    review([post], "disputed", moderator, "Works for a vendor.")
    before = log_ids()

    changed = review([post], "disputed", moderator, "Works for two vendors.")

    assert changed == 1
    assert review_fields(post)[0::3] == ("disputed", "Works for two vendors.")
    assert [row.reason for row in new_log_rows(before)] == ["Works for two vendors."]


def test_clearing_a_self_declared_post_changes_and_logs_nothing(topic, moderator):
    post = make_post(topic=topic)

    changed = review([post], "self_declared", moderator, "Nothing to review.")

    assert changed == 0
    assert review_fields(post) == ("self_declared", None, None, "")
    assert not ModerationAction.objects.exists()


@pytest.mark.parametrize("state", ["moderator_labelled", "approved"])
def test_review_refuses_a_label_or_unknown_state_without_an_edit(
    topic, moderator, state
):
    post = make_post(topic=topic)

    with pytest.raises(ValidationError) as caught:
        review([post], state, moderator, "Written by a vendor's model.")

    assert caught.value.code == "review_invalid"
    assert caught.value.messages == [LABEL_REFUSED]
    assert review_fields(post) == ("self_declared", None, None, "")
    assert not ModerationAction.objects.exists()


@pytest.mark.parametrize("note", ["", "   \n\t"])
@pytest.mark.parametrize(
    "state", ["verified", "disputed", "corrected", "self_declared"]
)
def test_review_without_a_note_is_refused_on_the_note_field(
    topic, moderator, state, note
):
    post = make_post(topic=topic)
    if state == "self_declared":
        review([post], "disputed", moderator, "Works for a vendor.")
    before = review_fields(post)
    logged = log_ids()

    with pytest.raises(ValidationError) as caught:
        review([post], state, moderator, note)

    assert {
        name: [(e.code, e.message) for e in errors]
        for name, errors in caught.value.error_dict.items()
    } == {"note": [("reason_required", REASON_REQUIRED)]}
    assert review_fields(post) == before
    assert log_ids() == logged


# The database's rule --------------------------------------------------------------


def store(post, **fields):
    with transaction.atomic():
        Post.objects.filter(pk=post.pk).update(**fields)


@pytest.mark.parametrize(
    "state", ["verified", "disputed", "corrected", "moderator_labelled"]
)
@pytest.mark.parametrize(
    "missing",
    [
        {"review_note": ""},
        {"review_note": " \t\n"},
        {"reviewed_by": None},
        {"reviewed_at": None},
    ],
    ids=["no note", "blank note", "no reviewer", "no time"],
)
def test_database_refuses_a_review_without_note_reviewer_or_time(
    topic, moderator, state, missing
):
    post = make_post(topic=topic)
    recorded = {
        "review_state": state,
        "reviewed_by": moderator,
        "reviewed_at": timezone.now(),
        "review_note": "Checked with the author.",
    }

    with pytest.raises(IntegrityError, match="forum_post_review_recorded"):
        store(post, **{**recorded, **missing})

    assert review_fields(post) == ("self_declared", None, None, "")
    store(post, **recorded)  # the same row, complete, is accepted
    assert review_fields(post)[0] == state


@pytest.mark.parametrize(
    "extra",
    [
        {"review_note": "Looked fine."},
        {"reviewed_by": True},
        {"reviewed_at": REVIEW_DAY},
    ],
    ids=["note", "reviewer", "time"],
)
def test_database_refuses_a_self_declared_post_with_review_details(
    topic, moderator, extra
):
    post = make_post(topic=topic)
    if "reviewed_by" in extra:
        extra = {"reviewed_by": moderator}

    with pytest.raises(IntegrityError, match="forum_post_review_recorded"):
        store(post, review_state="self_declared", **extra)

    assert review_fields(post) == ("self_declared", None, None, "")


def test_full_clean_refuses_a_review_without_a_note(topic, moderator):
    post = make_post(topic=topic)
    post.review_state, post.reviewed_by = "verified", moderator
    post.reviewed_at = timezone.now()

    with pytest.raises(ValidationError) as caught:
        post.full_clean()

    assert caught.value.messages == [
        "A reviewed disclosure records its reviewer, the time and a public note; "
        "a self-declared one has none."
    ]


# The strip's words -------------------------------------------------------------------


STRIP_WORDS = [
    ("verified", "Verified by moderators on 3 Dec 2025: Confirmed by the author."),
    ("disputed", "Disputed: Confirmed by the author."),
    ("corrected", "Corrected on 3 Dec 2025: Confirmed by the author."),
    ("moderator_labelled", "Label added by moderators: Confirmed by the author."),
]


@pytest.mark.parametrize(("state", "words"), STRIP_WORDS)
def test_strip_says_the_review_in_words_on_the_thread_and_permalink(
    client, topic, moderator, state, words
):
    post = make_post(topic=topic, body="Defenders need open models.")
    reviewed_on_day(post, state, moderator, "Confirmed by the author.")

    thread = client.get(f"/t/{topic.slug}/")
    permalink = client.get(f"/p/{post.pk}/", follow=True)

    assert permalink.redirect_chain == [(f"/t/{topic.slug}/#p{post.pk}", 302)]
    for response in (thread, permalink):
        assert response.status_code == 200
        assert review_words(response, post) == words
        assert strip_text(response, post).endswith(f"No declared conflicts · {words}")


def test_a_review_reaches_a_thread_page_already_cached(client, topic, moderator):
    post = make_post(topic=topic)
    assert review_words(client.get(f"/t/{topic.slug}/"), post) == ""

    review([post], "disputed", moderator, "Works for a vendor.")

    thread = client.get(f"/t/{topic.slug}/")
    assert review_words(thread, post) == "Disputed: Works for a vendor."


def test_history_and_profile_say_the_review_in_the_same_words(client, topic, moderator):
    post = make_post(topic=topic)
    reviewed_on_day(post, "verified", moderator, "Confirmed by the author.")
    words = "Verified by moderators on 3 Dec 2025: Confirmed by the author."

    history_page = client.get(f"/p/{post.pk}/history/")
    profile_page = client.get(f"/u/{post.author.username}/")

    now = re.search(
        r'<section aria-labelledby="now-title">.*?</section>', page(history_page), re.S
    )
    assert f"· {words}" in squash(now.group(0))
    assert f"· {words}" in squash(page(profile_page))


def test_label_strip_shows_the_moderators_relabelled_authorship(
    client, topic, moderator
):
    post = make_post(topic=topic)
    reviewed_on_day(post, "moderator_labelled", moderator, "Same text as a bot's.")

    strip = strip_text(client.get(f"/t/{topic.slug}/"), post)

    assert strip == (
        "Disclosure: AI-generated with Claude (Anthropic) — Anthropic is a party to "
        "this debate · Affiliation: none · Not paid · No declared conflicts · "
        "Label added by moderators: Same text as a bot's."
    )


def test_self_declared_strip_says_nothing_of_review(client, topic, moderator):
    fresh = make_post(topic=topic, body="Never reviewed.")
    cleared = make_post(topic=topic, body="Reviewed, then cleared.")
    review([cleared], "verified", moderator, "Checked.")
    review([cleared], "self_declared", moderator, "Checked the wrong post.")

    thread = client.get(f"/t/{topic.slug}/")

    for post in (fresh, cleared):
        assert review_words(thread, post) == ""
        assert strip_text(thread, post) == (
            "Disclosure: Human-written · Affiliation: none · Not paid · "
            "No declared conflicts"
        )
    assert "review-" not in post_block(thread, cleared)


@pytest.mark.parametrize(("state", "words"), STRIP_WORDS)
def test_review_note_with_markup_is_shown_as_text(
    client, topic, moderator, state, words
):
    post = make_post(topic=topic)
    note = '<b onmouseover="x()">Paid</b> & <script>alert(1)</script>'
    reviewed_on_day(post, state, moderator, note)

    response = client.get(f"/t/{topic.slug}/")

    assert review_words(response, post) == words.replace(
        "Confirmed by the author.", note
    )
    block = post_block(response, post)
    assert "<b onmouseover" not in block
    assert "<script>alert(1)" not in page(response)
    assert "&lt;b onmouseover=&quot;x()&quot;&gt;Paid&lt;/b&gt; &amp; " in block


# The admin's review actions --------------------------------------------------------------


ADMIN_REVIEWS = [
    ("verify_disclosures", "verified", "1 disclosure(s) verified."),
    ("dispute_disclosures", "disputed", "1 disclosure(s) disputed."),
    ("correct_disclosures", "corrected", "1 disclosure(s) marked corrected."),
]


@pytest.mark.parametrize(("action", "state", "done"), ADMIN_REVIEWS)
def test_admin_review_action_asks_why_with_the_evidence_rule_then_reviews(
    staff, topic, action, state, done
):
    post = make_post(topic=topic)
    note = "The author's employer lists them as staff."

    asked = ask_reason(staff, POSTS, action, [post])

    assert asked.status_code == 200
    assertTemplateUsed(asked, REASON_PAGE)
    assertContains(asked, EVIDENCE_RULE)
    assert review_fields(post) == ("self_declared", None, None, "")
    assert not ModerationAction.objects.exists()

    response = confirm(staff, POSTS, action, [post], note, follow=True)

    assert response.redirect_chain == [(POSTS, 302)]
    assert messages_shown(response) == [done]
    found_state, reviewer, when, found_note = review_fields(post)
    assert (found_state, reviewer, found_note) == (state, staff.user, note)
    assert when is not None
    assert [
        (row.action, row.post_id, row.actor, row.reason)
        for row in ModerationAction.objects.all()
    ] == [(REVIEW_KINDS[state], post.pk, staff.user, note)]


def test_admin_clear_reviews_makes_disclosures_self_declared_again(staff, topic):
    disputed, plain = make_post(topic=topic), make_post(topic=topic)
    review([disputed], "disputed", staff.user, "Works for a vendor.")
    before = log_ids()

    asked = ask_reason(staff, POSTS, "clear_reviews", [disputed, plain])
    response = confirm(
        staff, POSTS, "clear_reviews", [disputed, plain], "Wrong author.", follow=True
    )

    assertTemplateUsed(asked, REASON_PAGE)
    assert messages_shown(response) == ["1 review(s) cleared."]
    assert review_fields(disputed) == ("self_declared", None, None, "")
    assert [(row.action, row.post_id, row.reason) for row in new_log_rows(before)] == [
        ("clear_review", disputed.pk, "Wrong author.")
    ]


@pytest.mark.parametrize(
    "action",
    [
        "verify_disclosures",
        "dispute_disclosures",
        "correct_disclosures",
        "clear_reviews",
    ],
)
@pytest.mark.parametrize("reason", ["", "   "])
def test_admin_review_action_without_a_reason_changes_nothing(
    staff, topic, moderator, action, reason
):
    post = make_post(topic=topic)
    review([post], "corrected", moderator, "Fixed the payer.")
    before = (review_fields(post), log_ids())

    response = confirm(staff, POSTS, action, [post], reason)

    assert response.status_code == 200
    assertTemplateUsed(response, REASON_PAGE)
    assertContains(response, REASON_REQUIRED)
    assert (review_fields(post), log_ids()) == before


def test_reader_cannot_run_admin_review_actions(topic, user):
    post = make_post(topic=topic)
    reader = signed_in(user)
    reader.get("/admin/login/")  # a page with a form gives the reader a CSRF token

    response = confirm(reader, POSTS, "verify_disclosures", [post], "I say so.")

    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")
    assert review_fields(post) == ("self_declared", None, None, "")
    assert not ModerationAction.objects.exists()


# The report queue's verdicts --------------------------------------------------------------


def reported(topic, reason="undisclosed_interest", readers=2) -> Post:
    post = make_post(topic=topic, body="Open models keep defenders ahead.")
    for _ in range(readers):
        services.report_create(post=post, reporter=make_user(), reason=reason)
    return post


def test_queue_dispute_closes_reports_and_disputes_with_the_reason_as_note(
    staff, topic
):
    post = reported(topic)
    reason = "Works for a model vendor and did not say so."

    asked = ask_reason(staff, QUEUE, "dispute_disclosures", [post])
    response = confirm(staff, QUEUE, "dispute_disclosures", [post], reason, follow=True)

    assertContains(asked, EVIDENCE_RULE)
    assert response.redirect_chain == [(QUEUE, 302)]
    assert messages_shown(response) == [
        "2 report(s) upheld and the disclosures disputed."
    ]
    assert (
        list(Report.objects.values_list("status", "resolved_by"))
        == [(ReportStatus.DISPUTED, staff.user.pk)] * 2
    )
    found_state, reviewer, when, note = review_fields(post)
    assert (found_state, reviewer, note) == ("disputed", staff.user, reason)
    assert when is not None
    assert sorted(
        (row.action, row.post_id, row.reason) for row in ModerationAction.objects.all()
    ) == [
        ("dispute_disclosure", post.pk, reason),
        ("uphold_reports", post.pk, reason),
    ]
    thread = CsrfClient().get(f"/t/{topic.slug}/")
    assert review_words(thread, post) == f"Disputed: {reason}"


def test_queue_verify_dismisses_reports_and_verifies_with_the_reason_as_note(
    staff, topic
):
    post = reported(topic, reason="undisclosed_ai")
    reason = "The author showed drafts written by hand."

    asked = ask_reason(staff, QUEUE, "verify_disclosures", [post])
    response = confirm(staff, QUEUE, "verify_disclosures", [post], reason, follow=True)

    assertContains(asked, EVIDENCE_RULE)
    assert messages_shown(response) == [
        "2 report(s) dismissed and the disclosures verified."
    ]
    assert (
        list(Report.objects.values_list("status", "resolved_by"))
        == [(ReportStatus.DISMISSED, staff.user.pk)] * 2
    )
    found_state, reviewer, _, note = review_fields(post)
    assert (found_state, reviewer, note) == ("verified", staff.user, reason)
    assert sorted(
        (row.action, row.post_id, row.reason) for row in ModerationAction.objects.all()
    ) == [
        ("dismiss_reports", post.pk, reason),
        ("verify_disclosure", post.pk, reason),
    ]


@pytest.mark.parametrize("action", ["dispute_disclosures", "verify_disclosures"])
def test_queue_review_without_a_reason_changes_nothing(staff, topic, action):
    post = reported(topic)

    response = confirm(staff, QUEUE, action, [post], "  ")

    assert response.status_code == 200
    assertContains(response, REASON_REQUIRED)
    assert set(Report.objects.values_list("status", flat=True)) == {ReportStatus.OPEN}
    assert review_fields(post) == ("self_declared", None, None, "")
    assert not ModerationAction.objects.exists()


def test_public_log_names_each_review_action(csrf_client, topic, moderator):
    post = make_post(topic=topic)
    edit_post(post, editor=moderator, reason="Same text as a bot's.", **AI)
    review([post], "verified", moderator, "Checked the label.")
    review([post], "disputed", moderator, "A reader found the source.")
    review([post], "corrected", moderator, "The author fixed it.")
    # A relabelled disclosure never goes back to self-declared; another does.
    other = make_post(topic=topic)
    review([other], "verified", moderator, "Checked.")
    review([other], "self_declared", moderator, "Start over.")

    entries = log_entries(csrf_client.get("/moderation/"))

    target = f"post #{post.pk} in {topic.title}"
    label = "Same text as a bot's."
    other_target = f"post #{other.pk} in {topic.title}"
    assert entries == [
        (
            "cleared the review of a post’s disclosure:",
            other_target,
            "Reason: Start over.",
        ),
        ("verified a post’s disclosure:", other_target, "Reason: Checked."),
        (
            "marked a post’s disclosure corrected:",
            target,
            "Reason: The author fixed it.",
        ),
        ("disputed a post’s disclosure:", target, "Reason: A reader found the source."),
        ("verified a post’s disclosure:", target, "Reason: Checked the label."),
        ("relabelled a post’s disclosure:", target, f"Reason: {label}"),
        ("edited a post:", target, f"Reason: {label}"),
    ]


# The history page --------------------------------------------------------------------


def history(client, post):
    return client.get(f"/p/{post.pk}/history/")


def test_history_of_an_unedited_post_says_it_has_not_been_edited(client, topic):
    post = make_post(topic=topic, body="My first and only words.")

    response = history(client, post)

    assert response.status_code == 200
    assertContains(response, "It has not been edited.")
    assertContains(response, "Version 1 (first published)")
    assert '<pre class="version-body">My first and only words.</pre>' in page(response)
    assert "<del>" not in page(response)
    assert "<ins>" not in page(response)


def test_history_shows_each_version_with_its_word_diff(client, topic):
    post = make_post(topic=topic, body="Defenders need these models now.")
    edit_post(post, body="Defenders need open models now.")
    edit_post(
        post,
        body="Defenders need open models now.\n\nAnd later.",
        stances=[stance(topic, "opposes-ban-endangers-defenders")],
    )

    response = history(client, post)

    assert response.status_code == 200
    assertContains(response, "It has 3 versions, oldest first")
    html = page(response)
    assert re.findall(r"<h2>(Version \d[^<]*)</h2>", html) == [
        "Version 1 (first published)",
        "Version 2",
        "Version 3",
    ]
    assert "Defenders need <del>these</del><ins>open</ins> models now." in html
    assert "models now.<ins>\n\nAnd later.</ins>" in html
    assertContains(
        response,
        "Changed stance on “The ban endangers defenders” from supports to opposes",
    )


def test_history_names_a_moderators_edit_its_reason_and_disclosure_change(
    client, topic, moderator
):
    post = make_post(topic=topic, body="Written by me.")
    edit_post(post, editor=moderator, reason="Same text as a bot's.", **AI)

    html = page(client.get(f"/p/{post.pk}/history/"))

    second = re.search(r'<li class="version[^"]*" id="v2">.*?</li>\s*</ol>', html, re.S)
    text = squash(second.group(0))
    assert "by a moderator" in text
    assert "Reason: Same text as a bot's." in text
    assert (
        "<dt>Who wrote it</dt><dd><del><bdi>Human-written</bdi></del> → <ins><bdi>"
        "AI-generated with Claude (Anthropic) — Anthropic is a party to this "
        "debate</bdi></ins></dd>"
    ) in second.group(0)
    assert "The text did not change." in text


def test_history_escapes_markup_typed_in_bodies(client, topic):
    post = make_post(topic=topic, body="Plain <b>bold</b> words.")
    edit_post(post, body="Plain <script>alert(1)</script> words.")

    response = history(client, post)

    html = page(response)
    assert "<script>alert(1)</script>" not in html
    assert "<b>bold</b>" not in html
    assert "Plain &lt;b&gt;bold&lt;/b&gt; words." in html
    assert "<ins>&lt;script&gt;alert(1)&lt;/script&gt;</ins>" in html
    assert "<del>&lt;b&gt;bold&lt;/b&gt;</del>" in html


def test_history_of_a_hidden_post_is_for_staff_only(topic, user, moderator):
    post = make_post(topic=topic, body="You are all fools.")
    edit_post(post, body="You are all fools, truly.")
    hide(post, moderator)

    assert history(CsrfClient(), post).status_code == 404
    assert history(signed_in(user), post).status_code == 404
    assert history(signed_in(post.author), post).status_code == 404
    shown = history(signed_in(moderator), post)
    assert shown.status_code == 200
    assertContains(shown, "You are all fools")


def test_history_of_a_missing_post_is_404(client, topic):
    missing = make_post(topic=topic).pk + 1000

    assert client.get(f"/p/{missing}/history/").status_code == 404
    assert client.get(f"/p/{missing}/disclosure.json").status_code == 404


# disclosure.json --------------------------------------------------------------------


def test_disclosure_json_gives_the_disclosure_now_and_every_version(
    client, topic, moderator
):
    parties = list(topic.parties.order_by("name"))
    post = make_post(
        topic=topic,
        body="Defenders need open models.",
        tags=["exploits"],
        authorship="ai_assisted",
        ai_model="Claude",
        ai_maker="Anthropic",
        affiliation="University of Nowhere",
        paid="expected",
        paid_by="A think tank",
        conflict="declared",
        conflict_parties=parties,
        conflict_details="I advise both.",
    )
    edit_post(
        post,
        reason="The think tank withdrew its offer.",
        paid="no",
        paid_by="",
        stances=[stance(topic, "opposes-ban-endangers-defenders")],
        tags=["exploits", "policy"],
    )
    edit_post(
        post,
        editor=moderator,
        reason="The text matches a bot's output.",
        authorship="ai_generated",
    )

    response = client.get(f"/p/{post.pk}/disclosure.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = json.loads(response.content)
    assert (data["post"], data["url"], data["history_url"], data["author"]) == (
        post.pk,
        f"/p/{post.pk}/",
        f"/p/{post.pk}/history/",
        post.author.username,
    )
    now = data["disclosure"]
    assert {
        key: now[key]
        for key in (
            "authorship",
            "digital_source_type",
            "ai_model",
            "ai_maker",
            "ai_maker_is_party",
            "ai_maker_party",
            "affiliation",
            "paid",
            "paid_by",
            "conflict",
            "conflict_parties",
            "conflict_details",
            "amended",
        )
    } == {
        "authorship": "ai_generated",
        "digital_source_type": SOURCE_TYPES["ai_generated"],
        "ai_model": "Claude",
        "ai_maker": "Anthropic",
        "ai_maker_is_party": True,
        "ai_maker_party": "Anthropic",
        "affiliation": "University of Nowhere",
        "paid": "no",
        "paid_by": "",
        "conflict": "declared",
        "conflict_parties": ["Anthropic", "US government"],
        "conflict_details": "I advise both.",
        "amended": True,
    }
    assert {k: now["review"][k] for k in ("state", "label", "note")} == {
        "state": "moderator_labelled",
        "label": "Label added by moderators",
        "note": "The text matches a bot's output.",
    }
    revisions = data["revisions"]
    assert [
        (r["number"], r["editor"], r["reason"], r["downgrade"]) for r in revisions
    ] == [
        (1, "author", "", False),
        (2, "author", "The think tank withdrew its offer.", True),
        (3, "moderator", "The text matches a bot's output.", False),
    ]
    assert [r["tags"] for r in revisions] == [
        ["exploits"],
        ["exploits", "policy"],
        ["exploits", "policy"],
    ]
    assert [[s["polarity"] for s in r["stances"]] for r in revisions] == [
        ["supports"],
        ["opposes"],
        ["opposes"],
    ]
    assert revisions[1]["stances"] == [
        {
            "position": "ban-endangers-defenders",
            "claim": "The ban endangers defenders",
            "polarity": "opposes",
        }
    ]
    assert revisions[1]["stance_changes"] == [
        "changed stance on “The ban endangers defenders” from supports to opposes"
    ]
    assert [
        (
            r["disclosure"]["authorship"],
            r["disclosure"]["paid"],
            r["disclosure"]["paid_by"],
            r["disclosure"]["conflict_parties"],
        )
        for r in revisions
    ] == [
        ("ai_assisted", "expected", "A think tank", ["Anthropic", "US government"]),
        ("ai_assisted", "no", "", ["Anthropic", "US government"]),
        ("ai_generated", "no", "", ["Anthropic", "US government"]),
    ]
    assert "review" not in revisions[0]["disclosure"]


def test_disclosure_json_of_an_unedited_post_is_its_first_version(client, topic):
    post = make_post(topic=topic, body="Just this.")

    data = client.get(f"/p/{post.pk}/disclosure.json").json()

    assert data["edited"] is None
    assert data["disclosure"]["review"]["state"] == "self_declared"
    assert data["disclosure"]["digital_source_type"] is None
    assert [
        (r["number"], r["editor"], r["body"], r["reason"]) for r in data["revisions"]
    ] == [(1, "author", "Just this.", "")]


def test_disclosure_json_of_a_hidden_post_is_for_staff_only(topic, user, moderator):
    post = make_post(topic=topic)
    hide(post, moderator)

    assert CsrfClient().get(f"/p/{post.pk}/disclosure.json").status_code == 404
    assert signed_in(user).get(f"/p/{post.pk}/disclosure.json").status_code == 404
    shown = signed_in(moderator).get(f"/p/{post.pk}/disclosure.json")
    assert shown.status_code == 200
    assert shown.json()["post"] == post.pk


# JSON-LD on the thread page ----------------------------------------------------------


def test_thread_jsonld_describes_the_topic_and_each_visible_reply(
    client, topic, moderator
):
    first = make_post(topic=topic, body="First.")
    hidden = make_post(topic=topic, body="Hidden.")
    reply = make_post(topic=topic, body="Second.", parent=first)
    hide(hidden, moderator)

    data = thread_data(client.get(f"/t/{topic.slug}/"))

    assert data["@type"] == "DiscussionForumPosting"
    assert data["@context"]["standpoint"] == "urn:standpoint:disclosure:"
    assert (data["url"], data["headline"]) == (f"/t/{topic.slug}/", topic.title)
    assert [c["@id"] for c in data["comment"]] == [f"/p/{first.pk}/", f"/p/{reply.pk}/"]
    for post in (first, reply):
        comment = comment_of(data, post)
        assert comment["@type"] == "Comment"
        assert comment["author"] == {
            "@type": "Person",
            "name": post.author.username,
            "url": f"/u/{post.author.username}/",
        }
        assert comment["datePublished"] == post.created.isoformat()
        assert comment["dateModified"] == post.created.isoformat()
    assert comment_of(data, reply)["parentItem"] == {"@id": f"/p/{first.pk}/"}
    assert "Hidden." not in json.dumps(data)


def test_thread_jsonld_leaves_hidden_replies_out_for_staff_too(topic, moderator):
    shown = make_post(topic=topic, body="Shown.")
    hidden = make_post(topic=topic, body="Hidden.")
    hide(hidden, moderator)

    response = signed_in(moderator).get(f"/t/{topic.slug}/")

    assert "Hidden." in squash(post_block(response, hidden))
    assert [c["@id"] for c in thread_data(response)["comment"]] == [f"/p/{shown.pk}/"]


def test_thread_jsonld_date_modified_is_the_edit_time(client, topic):
    post = make_post(topic=topic, body="Before.")
    edit_post(post, body="After.")
    post.refresh_from_db()

    comment = comment_of(thread_data(client.get(f"/t/{topic.slug}/")), post)

    assert post.edited > post.created
    assert comment["datePublished"] == post.created.isoformat()
    assert comment["dateModified"] == post.edited.isoformat()
    assert comment["text"] == "After."


def test_thread_jsonld_gives_a_long_reply_s_opening_not_its_whole_text(client, topic):
    words = [f"word{n}" for n in range(200)]
    post = make_post(topic=topic, body=" ".join(words))

    response = client.get(f"/t/{topic.slug}/")
    comment = comment_of(thread_data(response), post)

    # The page carries the text once; the record opens it and points at it.
    assert comment["text"] == " ".join(words[:16]) + "…"
    assert comment["url"] == f"/p/{post.pk}/"
    assert response.content.decode().count("word199") == 1


def test_human_reply_has_no_digital_source_type(client, topic):
    post = make_post(topic=topic)

    comment = comment_of(thread_data(client.get(f"/t/{topic.slug}/")), post)

    assert "digitalSourceType" not in comment
    assert comment["standpoint:disclosure"]["standpoint:authorship"] == "human"


@pytest.mark.parametrize(("authorship", "source"), list(SOURCE_TYPES.items()))
def test_ai_reply_carries_its_digital_source_type(client, topic, authorship, source):
    post = make_post(
        topic=topic, authorship=authorship, ai_model="Llama", ai_maker="Meta"
    )

    comment = comment_of(thread_data(client.get(f"/t/{topic.slug}/")), post)

    assert comment["digitalSourceType"] == source


def test_jsonld_extension_carries_model_maker_pay_conflicts_and_review(
    client, topic, moderator
):
    post = make_post(
        topic=topic,
        **AI,
        paid="yes",
        paid_by="A lobby",
        conflict="declared",
        conflict_parties=list(topic.parties.all()),
        conflict_details="I lobby for both.",
    )
    plain = make_post(topic=topic)
    review([post], "disputed", moderator, "The lobby is a party too.")

    data = thread_data(client.get(f"/t/{topic.slug}/"))

    extension = comment_of(data, post)["standpoint:disclosure"]
    assert extension["@type"] == "standpoint:Disclosure"
    assert {
        key: extension[f"standpoint:{key}"]
        for key in (
            "ai_model",
            "ai_maker",
            "ai_maker_is_party",
            "paid",
            "paid_by",
            "conflict",
            "conflict_parties",
            "review_state",
            "review_note",
        )
    } == {
        "ai_model": "Claude",
        "ai_maker": "Anthropic",
        "ai_maker_is_party": True,
        "paid": "yes",
        "paid_by": "A lobby",
        "conflict": "declared",
        "conflict_parties": ["Anthropic", "US government"],
        "review_state": "disputed",
        "review_note": "The lobby is a party too.",
    }
    plain_extension = comment_of(data, plain)["standpoint:disclosure"]
    assert (
        plain_extension["standpoint:ai_maker_is_party"],
        plain_extension["standpoint:paid"],
        plain_extension["standpoint:conflict_parties"],
        plain_extension["standpoint:review_state"],
    ) == (False, "no", [], "self_declared")


def test_a_non_party_maker_is_not_flagged(client, topic):
    post = make_post(
        topic=topic, authorship="ai_polished", ai_model="Llama", ai_maker="Meta"
    )

    comment = comment_of(thread_data(client.get(f"/t/{topic.slug}/")), post)

    assert comment["standpoint:disclosure"]["standpoint:ai_maker_is_party"] is False
    assert comment["standpoint:disclosure"]["standpoint:ai_maker"] == "Meta"


@pytest.mark.parametrize(
    "body",
    [
        "</script><script>alert(1)</script>",
        "Text </SCRIPT ><script>alert(1)</script> & <!-- more",
    ],
)
def test_a_body_cannot_end_the_jsonld_script_early(client, topic, body):
    post = make_post(topic=topic, body=body)
    review_note_post = make_post(topic=topic, body="Plain.")
    services.posts_review(
        posts=Post.objects.filter(pk=review_note_post.pk),
        state=ReviewState.DISPUTED,
        actor=make_user(is_staff=True),
        note="</script><script>alert(2)</script>",
    )

    response = client.get(f"/t/{topic.slug}/")

    html = page(response)
    assert "</script><script>" not in html
    assert "<script>alert(" not in html
    assert html.count('<script type="application/ld+json">') == 1
    data = thread_data(response)
    assert comment_of(data, post)["text"] == body
    assert (
        comment_of(data, review_note_post)["standpoint:disclosure"][
            "standpoint:review_note"
        ]
        == "</script><script>alert(2)</script>"
    )


# Query counts ----------------------------------------------------------------------------


def test_thread_page_costs_the_same_for_posts_with_2_or_12_revisions(
    client, db, django_assert_max_num_queries
):
    few, many = make_topic(), make_topic()
    for topic, edits in ((few, 1), (many, 11)):
        for n in range(3):
            edited_times(
                make_post(topic=topic, body=f"Reply {n} in {topic.slug}."), edits
            )

    counts = []
    for topic in (few, many):
        clear_caches()
        counts.append(
            count_get(
                django_assert_max_num_queries,
                client,
                f"/t/{topic.slug}/",
                THREAD_QUERIES_EDITED,
            )
        )

    assert counts == [THREAD_QUERIES_EDITED] * 2


def test_thread_page_shows_every_stance_change_of_its_replies(client, topic):
    post = edited_times(make_post(topic=topic), 3)

    block = post_block(client.get(f"/t/{topic.slug}/"), post)

    trail = re.search(r'<ul class="stance-trail".*?</ul>', block, re.S)
    notes = re.findall(r"<li>(.*?) \(<time", trail.group(0))
    assert notes == [
        "Changed stance on “The ban endangers defenders” from supports to opposes",
        "Changed stance on “The ban endangers defenders” from opposes to supports",
        "Changed stance on “The ban endangers defenders” from supports to opposes",
    ]


@pytest.mark.parametrize(
    ("path", "budget"),
    [("history/", HISTORY_QUERIES), ("disclosure.json", DISCLOSURE_JSON_QUERIES)],
)
def test_history_and_disclosure_json_cost_the_same_for_2_and_15_revisions(
    client, topic, django_assert_max_num_queries, path, budget
):
    few = edited_times(make_post(topic=topic, body="Few edits."), 1)
    many = edited_times(make_post(topic=topic, body="Many edits."), 14)

    counts = [
        count_get(django_assert_max_num_queries, client, f"/p/{post.pk}/{path}", budget)
        for post in (few, many)
    ]

    assert counts == [budget] * 2


@pytest.mark.django_db
def test_a_label_moderators_added_cannot_be_cleared_to_self_declared(topic, moderator):
    """Clearing it would pass the moderators' words off as the author's."""
    post = make_post(topic=topic)
    edit_post(
        post,
        editor=moderator,
        reason="The author works for Anthropic.",
        affiliation="Anthropic",
    )
    before = log_ids()

    with pytest.raises(ValidationError) as excinfo:
        review([post], "self_declared", moderator, "Undo.")

    assert excinfo.value.code == "review_labelled"
    assert review_fields(post)[0] == "moderator_labelled"
    assert log_ids() == before
    # A later verdict is still possible.
    assert review([post], "verified", moderator, "Confirmed by the employer.") == 1


# Long histories and large diffs ----------------------------------------------------


def test_history_pages_versions_ten_at_a_time_each_compared_with_the_one_before(
    client, topic
):
    post = make_post(topic=topic, body="Version 1.")
    for n in range(2, 13):
        edit_post(post, body=f"Version {n}.")

    first = client.get(f"/p/{post.pk}/history/")
    second = client.get(f"/p/{post.pk}/history/?page=2")

    def shown(response):
        return [
            int(n)
            for n in re.findall(r'<li class="version[^"]*" id="v(\d+)"', page(response))
        ]

    assert shown(first) == list(range(1, 11))
    assert shown(second) == [11, 12]
    assert "It has 12 versions" in squash(page(second))
    version_11 = re.search(r'id="v11".*?</li>', page(second), re.S).group(0)
    assert "<del>10.</del><ins>11.</ins>" in version_11
    assert "(first published)" not in page(second)
    assert client.get(f"/p/{post.pk}/history/?page=3").status_code == 404
    assert client.get(f"/p/{post.pk}/history/?page=x").status_code == 404


def test_disclosure_json_pages_its_versions_with_links(client, topic):
    post = make_post(topic=topic, body="Version 1.")
    for n in range(2, 13):
        edit_post(post, body=f"Version {n}.")
    url = f"/p/{post.pk}/disclosure.json"

    first, second = client.get(url).json(), client.get(f"{url}?page=2").json()

    assert (first["versions"], first["page"], first["pages"]) == (12, 1, 2)
    assert [r["number"] for r in first["revisions"]] == list(range(1, 11))
    assert (first["next"], first["previous"]) == (f"{url}?page=2", None)
    assert [r["number"] for r in second["revisions"]] == [11, 12]
    assert (second["next"], second["previous"]) == (None, f"{url}?page=1")
    assert client.get(f"{url}?page=3").status_code == 404


def test_a_changed_block_too_large_to_compare_word_by_word_shows_whole():
    """SequenceMatcher's time grows with the square of its input: big blocks are not compared."""
    old, new = "a " * WORD_DIFF_MAX_TOKENS, "b a " * (WORD_DIFF_MAX_TOKENS // 2)

    assert text_diff(old, new) == [("removed", old), ("added", new)]
    # Unchanged lines around a changed one stay as they were.
    assert text_diff(
        "same\nold words here\nsame\n", "same\nnew words here\nsame\n"
    ) == [
        ("same", "same\n"),
        ("removed", "old"),
        ("added", "new"),
        ("same", " words here\n"),
        ("same", "same\n"),
    ]


@pytest.mark.django_db
def test_a_relabelled_disclosure_stays_the_moderators_after_later_verdicts(
    topic, moderator
):
    post = make_post(topic=topic)
    edit_post(post, editor=moderator, reason="Their employer.", affiliation="Anthropic")
    review([post], "verified", moderator, "Confirmed.")

    with pytest.raises(ValidationError) as excinfo:
        review([post], "self_declared", moderator, "Undo.")

    assert excinfo.value.code == "review_labelled"
    assert review_fields(post)[0] == "verified"


@pytest.mark.django_db
def test_moderators_cannot_review_their_own_posts(topic, moderator):
    own = make_post(topic=topic, author=moderator)
    before = log_ids()

    with pytest.raises(ValidationError) as excinfo:
        review([own], "verified", moderator, "Looks right to me.")

    assert excinfo.value.code == "own_post"
    assert review_fields(own)[0] == "self_declared"
    assert log_ids() == before


@pytest.mark.django_db
def test_an_author_voiding_a_verified_review_is_logged_as_the_site(topic, moderator):
    post = make_post(topic=topic)
    review([post], "verified", moderator, "Checked.")
    before = log_ids()

    edit_post(post, affiliation="Acme Labs", reason="I joined Acme.")

    logged = ModerationAction.objects.exclude(pk__in=before)
    assert [(a.action, a.actor, a.post_id) for a in logged] == [
        ("clear_review", None, post.pk)
    ]
    assert review_fields(post)[0] == "self_declared"


# Taking an earlier version's text out of public view -----------------------------

REVISIONS = "/admin/forum/postrevision/"
DOXXING = "Her home address is 1 Secret Lane."


def doxxed_then_edited(topic, moderator):
    """A post whose first version held personal data, which a moderator edited out."""
    post = make_post(topic=topic, body=f"Defenders need these models. {DOXXING}")
    edit_post(
        post,
        editor=moderator,
        reason="Personal data removed.",
        body="Defenders need these models. [removed by moderators]",
    )
    return post


def test_staff_take_an_earlier_version_out_of_public_view_through_the_admin(
    staff, topic, moderator, client
):
    post = doxxed_then_edited(topic, moderator)
    first = post.revisions.get(number=1)

    asked = ask_reason(staff, REVISIONS, "redact_revisions", [first])
    confirmed = confirm(staff, REVISIONS, "redact_revisions", [first], "Doxxing.")

    assertTemplateUsed(asked, REASON_PAGE)
    assert confirmed.status_code == 302
    first.refresh_from_db()
    assert (first.redacted_reason, first.redacted_by) == ("Doxxing.", staff.user)
    history_html = page(client.get(f"/p/{post.pk}/history/"))
    assert "1 Secret Lane" not in history_html
    assert "Its text was removed from public view by moderators: Doxxing." in squash(
        history_html
    )
    # The next version is shown whole, not as a diff against the hidden text.
    assert "Defenders need these models. [removed by moderators]" in history_html
    assert "<del>" not in history_html
    document = client.get(f"/p/{post.pk}/disclosure.json").json()
    assert document["revisions"][0]["body"] is None
    assert document["revisions"][0]["text_removed"]["reason"] == "Doxxing."
    assert "1 Secret Lane" not in json.dumps(document)
    # Staff still read it, marked as out of public view.
    staff_html = page(staff.get(f"/p/{post.pk}/history/"))
    assert "1 Secret Lane" in staff_html
    assert "Its text is out of public view (staff only): Doxxing." in squash(staff_html)
    logged = ModerationAction.objects.filter(action="redact_revision").get()
    assert (logged.post_id, logged.reason) == (post.pk, "Doxxing.")


def test_the_latest_version_cannot_be_taken_out_of_view(topic, moderator):
    post = doxxed_then_edited(topic, moderator)
    before = log_ids()

    with pytest.raises(ValidationError) as excinfo:
        services.revisions_redact(
            revisions=post.revisions.all(), actor=moderator, reason="Both."
        )

    assert excinfo.value.code == "redact_latest"
    assert not post.revisions.filter(redacted_at__isnull=False).exists()
    assert log_ids() == before


def test_readers_cannot_take_versions_out_of_view(topic, moderator):
    post = doxxed_then_edited(topic, moderator)
    reader = Client()
    reader.force_login(make_user())

    response = confirm(
        reader, REVISIONS, "redact_revisions", [post.revisions.get(number=1)], "Mine."
    )

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not post.revisions.filter(redacted_at__isnull=False).exists()


@pytest.mark.django_db
def test_database_refuses_a_redaction_without_its_reason_or_moderator(topic, moderator):
    post = doxxed_then_edited(topic, moderator)
    first = post.revisions.filter(number=1)

    for fields in (
        {
            "redacted_at": timezone.now(),
            "redacted_by": moderator,
            "redacted_reason": " ",
        },
        {"redacted_at": timezone.now(), "redacted_reason": "Doxxing."},
        {"redacted_reason": "Doxxing."},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            first.update(**fields)


@pytest.mark.django_db
def test_a_relabelled_disclosure_stays_held_after_another_moderator_verifies_it(
    topic, moderator
):
    """The author cannot undo the moderators' label once a verdict replaced its state."""
    author, second = make_user(), make_user(is_staff=True)
    post = make_post(topic=topic, author=author)
    anthropic = topic.parties.get(slug="anthropic")
    edit_post(
        post,
        editor=moderator,
        reason="Their staff page.",
        affiliation="Anthropic",
        conflict="declared",
        conflict_parties=[anthropic],
        conflict_details="Employee.",
    )
    review([post], "verified", second, "Confirmed with the employer.")

    with pytest.raises(ValidationError) as excinfo:
        edit_post(
            post,
            affiliation="none",
            conflict="none",
            conflict_parties=[],
            conflict_details="",
            reason="Not true.",
        )

    assert excinfo.value.code == "review_holds_disclosure"
    # Adding to it is allowed, and the verdict stands.
    edit_post(post, paid="yes", paid_by="Anthropic")
    post.refresh_from_db()
    assert (post.review_state, post.affiliation, post.conflict) == (
        "verified",
        "Anthropic",
        "declared",
    )


def test_a_changed_block_of_too_many_lines_shows_whole():
    """Lines are bounded like words: ~6,600 short lines drawn from 120 values took 1 s."""
    lines = int(LINE_DIFF_MAX_PAIRS**0.5) + 1
    old = "".join(f"{n % 120:02x}\n" for n in range(lines))
    new = "".join(f"{(n * 7) % 120:02x}\n" for n in range(lines))

    assert text_diff(old, new) == [("removed", old), ("added", new)]


def test_taking_a_version_out_of_view_hides_its_reason_too(client, topic, moderator):
    post = make_post(topic=topic, body=f"First. {DOXXING}")
    edit_post(post, body=f"Second. {DOXXING}", reason=f"Added that {DOXXING}")
    edit_post(post, editor=moderator, reason="Personal data removed.", body="Third.")
    services.revisions_redact(
        revisions=post.revisions.filter(number__in=[1, 2]),
        actor=moderator,
        reason="Doxxing.",
    )

    history_html = page(client.get(f"/p/{post.pk}/history/"))
    document = client.get(f"/p/{post.pk}/disclosure.json").json()

    assert "1 Secret Lane" not in history_html
    assert "1 Secret Lane" not in json.dumps(document)
    assert [r["reason"] for r in document["revisions"]] == [
        None,
        None,
        "Personal data removed.",
    ]
