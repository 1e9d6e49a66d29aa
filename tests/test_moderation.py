"""Moderation through the front door: reports, the queue, reasons, the public log."""

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone
from pytest_django.asserts import (
    assertContains,
    assertNotContains,
    assertRedirects,
    assertTemplateUsed,
)

from forum import services
from forum.models import (
    ModerationAction,
    ModerationKind,
    PositionProposal,
    Post,
    PostStatus,
    Report,
    ReportReason,
    ReportStatus,
    Suspension,
    Topic,
)

from .browser_form import form_values
from .conftest import CsrfClient
from .factories import disclosure, make_post, make_topic, make_user
from .pages import (
    field_errors,
    messages_shown,
    page,
    post_block,
    shown_post_ids,
    signed_in,
    squash,
    summary_errors,
)

THANKS = (
    "Thank you: your report is with the moderators. The moderation log will show "
    "what they decide."
)
ALREADY_REPORTED = "You have already reported this post; moderators will look at it."
OWN_POST = "This is your own post: you cannot report it."
ALREADY_HIDDEN = "Moderators have already hidden this post."
NOTE_REQUIRED = "Say what is wrong with the post when the reason is “something else”."
REASON_REQUIRED = "Give a reason: the public moderation log shows it."
AUTO_HIDDEN = "Hidden automatically pending review: 3 readers reported it."
NO_SUCH_TOPIC = "There is no topic with that address."
AI = {"authorship": "ai_generated", "ai_model": "Claude", "ai_maker": "Anthropic"}

QUEUE = "/admin/forum/reportedpost/"
POSTS = "/admin/forum/post/"
TOPICS = "/admin/forum/topic/"
PROPOSALS = "/admin/forum/positionproposal/"
LOG_ADMIN = "/admin/forum/moderationaction/"
REASON_PAGE = "admin/forum/action_reason.html"
# Session, user; the post, its open reports, its and its topic's parties;
# permissions (2); the reports inline, with reporters and resolvers joined.
QUEUE_PAGE_QUERIES = 9


# Reading helpers ----------------------------------------------------------


def report_form_values(response) -> dict[str, list[str]]:
    match = re.search(
        r'<form method="post" action="/p/\d+/report/".*?</form>', page(response), re.S
    )
    assert match, "no report form on the page"
    values = form_values(match.group(0))
    values.pop("csrfmiddlewaretoken", None)
    return values


def log_entries(response) -> list[dict]:
    """Each entry of the public moderation log: who, what, target, links, reason."""
    entries = []
    for item in re.findall(
        r'<li class="modlog-entry[^"]*">(.*?)</li>', page(response), re.S
    ):

        def part(pattern: str, item=item) -> str:
            match = re.search(pattern, item, re.S)
            return match.group(1) if match else ""

        target = part(r'<span class="target">(.*?)</span>')
        entries.append(
            {
                "who": squash(part(r'<span class="who">(.*?)</span>')),
                "what": squash(part(r'<span class="what">(.*?)</span>')),
                "target": squash(target),
                "links": re.findall(r'href="([^"]*)"', target),
                "reason": squash(part(r'<p class="reason">(.*?)</p>')),
            }
        )
    return entries


def queue_rows(response) -> list[dict[str, str]]:
    """The report queue's rows in order, each column's text by its field name."""
    body = re.search(
        r'<table id="result_list">.*?<tbody>(.*?)</tbody>', page(response), re.S
    )
    assert body, "no result list on the page"
    return [
        {
            name: squash(cell)
            for name, cell in re.findall(
                r'<t[hd] class="field-(\w+)[^"]*"[^>]*>(.*?)</t[hd]>', row, re.S
            )
        }
        for row in re.findall(r"<tr.*?</tr>", body.group(1), re.S)
    ]


def change_form_data(response, **changes):
    """An admin change form as the page shows it, with `changes` applied."""
    form = re.search(r'<form [^>]*id="\w+_form".*?</form>', page(response), re.S)
    data = {
        name: values if len(values) > 1 else values[0]
        for name, values in form_values(form.group(0)).items()
        if "__prefix__" not in name
    }
    data.update(changes)
    return data


def snapshot() -> tuple:
    """Everything a moderator action could change, to show that nothing did."""
    return (
        sorted(Post.objects.values_list("pk", "status", "hidden_reason", "body")),
        sorted(Topic.objects.values_list("pk", "is_locked", "is_pinned")),
        sorted(Report.objects.values_list("pk", "status", "resolved_by")),
        sorted(PositionProposal.objects.values_list("pk", "status")),
        sorted(ModerationAction.objects.values_list("pk", "action", "reason")),
    )


# Acting helpers -------------------------------------------------------------


def hold_csrf_token(client) -> None:
    """Give a signed-in reader a valid CSRF token, as any page with a form would.

    The admin login page shows a form to a signed-in reader; the site's own
    sign-in page sends them on.
    """
    client.get("/admin/login/")
    assert "csrftoken" in client.cookies


def report_url(post) -> str:
    return f"/p/{post.pk}/report/"


def report(client, post, reason="spam", note="", **extra):
    return client.post(report_url(post), {"reason": reason, "note": note}, **extra)


def file_report(post, reason="spam", note="", reporter=None) -> Report:
    """A report made by a fresh reader, for setting up the queue."""
    return services.report_create(
        post=post, reporter=reporter or make_user(), reason=reason, note=note
    )


def hide(post, reason="Advertising for watches.", actor=None) -> None:
    services.posts_set_status(
        posts=Post.objects.filter(pk=post.pk),
        status=PostStatus.HIDDEN,
        actor=actor,
        reason=reason,
    )


def ask_reason(client, url, action, objects):
    """The first click on an admin action: the page that asks why."""
    chosen = [obj.pk for obj in objects]
    return client.post(url, {"action": action, "_selected_action": chosen, "index": 0})


def confirm(client, url, action, objects, reason, **extra):
    """The confirming POST from the reason page."""
    chosen = [obj.pk for obj in objects]
    data = {"action": action, "_selected_action": chosen, "reason": reason}
    return client.post(url, data, **extra)


def new_log_rows(before: set[int]) -> list[ModerationAction]:
    return list(
        ModerationAction.objects.exclude(pk__in=before).order_by("created", "id")
    )


def log_ids() -> set[int]:
    return set(ModerationAction.objects.values_list("pk", flat=True))


# Fixtures ---------------------------------------------------------------


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


@pytest.fixture
def reader(user):
    return signed_in(user)


@pytest.fixture
def scene(topic):
    """A topic and a locked, pinned one; a reported post, a plain one, a hidden one."""
    flagged = make_topic(title="A settled debate")
    Topic.objects.filter(pk=flagged.pk).update(is_locked=True, is_pinned=True)
    ada, grace = make_user(username="ada"), make_user(username="grace")
    reported = make_post(topic=topic, author=ada, body="Buy cheap watches.", **AI)
    file_report(reported, "spam", "A link to a watch shop.")
    file_report(reported, "off_topic", "Nothing about export rules.")
    plain = make_post(topic=topic, author=grace, body="Defenders lose tools.")
    hidden = make_post(topic=topic, author=grace, body="You are all fools.")
    hide(hidden, "Insults, not argument.", actor=make_user(is_staff=True))
    proposal = services.position_propose(
        topic=topic,
        author=grace,
        claim="Export rules should name models",
        attested=True,
        disclosure=disclosure(),
    )
    return SimpleNamespace(
        topic=Topic.objects.get(pk=topic.pk),
        flagged=Topic.objects.get(pk=flagged.pk),
        reported=reported,
        plain=plain,
        hidden=hidden,
        proposal=proposal,
    )


# Reports -------------------------------------------------------------------


def test_reader_reports_a_post_and_is_thanked_on_the_thread(reader, user, topic):
    post = make_post(topic=topic)

    response = report(
        reader, post, "undisclosed_ai", "  Reads like a chatbot.  ", follow=True
    )

    assert response.redirect_chain == [
        (f"/p/{post.pk}/", 302),
        (f"/t/{topic.slug}/#p{post.pk}", 302),
    ]
    assert messages_shown(response) == [THANKS]
    stored = Report.objects.get()
    assert (stored.post, stored.reporter, stored.reason, stored.note) == (
        post,
        user,
        "undisclosed_ai",
        "Reads like a chatbot.",
    )
    assert stored.status == ReportStatus.OPEN
    assert stored.resolved_at is None


@pytest.mark.parametrize("reason", ReportReason.values)
def test_every_report_reason_is_accepted(reader, topic, reason):
    post = make_post(topic=topic)
    note = "It is a poem about cats." if reason == "other" else ""

    response = report(reader, post, reason, note)

    assertRedirects(response, f"/p/{post.pk}/", fetch_redirect_response=False)
    assert list(Report.objects.values_list("reason", "note")) == [(reason, note)]


def test_report_form_offers_every_reason_and_a_note(reader, topic):
    post = make_post(topic=topic, body="Exports *matter*.")

    response = reader.get(report_url(post))

    assert response.status_code == 200
    offered = re.findall(
        r'<input type="radio" name="reason" value="(\w+)"', page(response)
    )
    assert offered == ReportReason.values
    for label in ReportReason.labels:
        assertContains(response, label)
    assert report_form_values(response) == {"note": [""]}
    assertContains(response, "Reports from 3 different readers hide a post")
    assert "Exports matter." in squash(post_block(response, post))


def test_other_without_a_note_is_refused_and_the_choice_kept(reader, topic):
    post = make_post(topic=topic)

    response = report(reader, post, "other", "   ")

    assert response.status_code == 200
    assert field_errors(response, "note") == [NOTE_REQUIRED]
    assert summary_errors(response).startswith("Please fix 1 problem below")
    assert report_form_values(response)["reason"] == ["other"]
    assert not Report.objects.exists()


def test_unknown_reason_is_refused_and_the_note_kept(reader, topic):
    post = make_post(topic=topic)

    response = report(reader, post, "boring", "Looks paid for.")

    assert response.status_code == 200
    assert field_errors(response, "reason") == ["Choose a reason from the list."]
    assert report_form_values(response) == {"note": ["Looks paid for."]}
    assert not Report.objects.exists()


def test_missing_reason_is_refused_with_its_message(reader, topic):
    post = make_post(topic=topic)

    response = reader.post(report_url(post), {"note": "Something is off."})

    assert response.status_code == 200
    assert field_errors(response, "reason") == ["Choose what is wrong with the post."]
    assert report_form_values(response) == {"note": ["Something is off."]}
    assert not Report.objects.exists()


def test_second_open_report_on_one_post_is_refused(reader, user, topic):
    post = make_post(topic=topic)
    assert report(reader, post, "spam").status_code == 302

    response = report(reader, post, "harassment", "And rude too.")

    assert response.status_code == 409
    assert ALREADY_REPORTED in summary_errors(response)
    assert report_form_values(response) == {
        "reason": ["harassment"],
        "note": ["And rude too."],
    }
    assert list(Report.objects.values_list("reporter", "reason")) == [(user.pk, "spam")]


def test_after_a_dismissal_the_reader_may_report_again(reader, topic, moderator):
    post = make_post(topic=topic)
    assert report(reader, post, "spam").status_code == 302
    services.reports_resolve(
        posts=Post.objects.filter(pk=post.pk),
        outcome=ReportStatus.DISMISSED,
        actor=moderator,
        reason="Not spam.",
    )

    response = report(reader, post, "off_topic")

    assert response.status_code == 302
    assert sorted(Report.objects.values_list("reason", "status")) == [
        ("off_topic", "open"),
        ("spam", "dismissed"),
    ]


def test_reporting_your_own_post_is_refused(reader, user, topic):
    post = make_post(topic=topic, author=user)

    shown = reader.get(report_url(post))
    response = report(reader, post, "spam")

    for refused in (shown, response):
        assert refused.status_code == 403
        assertContains(refused, OWN_POST, status_code=403)
        assertNotContains(refused, 'name="reason"', status_code=403)
    assert not Report.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_reader_is_sent_to_sign_in_to_report(csrf_client, topic, method):
    post = make_post(topic=topic)
    url = report_url(post)

    if method == "get":
        response = csrf_client.get(url)
    else:
        response = report(csrf_client, post, "spam")

    assertRedirects(
        response, f"/accounts/login/?next={url}", fetch_redirect_response=False
    )
    assert not Report.objects.exists()


def test_a_hidden_post_cannot_be_reported(reader, topic):
    post = make_post(topic=topic, body="Buy cheap watches.")
    hide(post)

    response = report(reader, post, "spam")

    assert response.status_code == 409
    assertContains(response, ALREADY_HIDDEN, status_code=409)
    assertNotContains(response, "Buy cheap watches.", status_code=409)
    assert not Report.objects.exists()


def test_report_page_of_a_missing_post_is_not_found(reader, topic):
    missing = make_post(topic=topic).pk + 1000

    assert reader.get(f"/p/{missing}/report/").status_code == 404
    response = reader.post(f"/p/{missing}/report/", {"reason": "spam", "note": ""})
    assert response.status_code == 404
    assert not Report.objects.exists()


# The report threshold -------------------------------------------------------


def test_reports_from_three_readers_hide_the_post_pending_review(topic):
    post = make_post(topic=topic, body="Buy cheap watches.")
    readers = [signed_in(make_user()) for _ in range(3)]

    for client in readers[:2]:
        assert report(client, post, "spam").status_code == 302
    post.refresh_from_db()
    assert post.status == PostStatus.PUBLISHED
    assert not ModerationAction.objects.exists()

    assert report(readers[2], post, "spam").status_code == 302

    post.refresh_from_db()
    assert (post.status, post.hidden_reason) == (PostStatus.HIDDEN, AUTO_HIDDEN)
    logged = ModerationAction.objects.get()
    assert (logged.actor, logged.action, logged.post, logged.topic) == (
        None,
        ModerationKind.HIDE,
        post,
        topic,
    )
    assert logged.reason == AUTO_HIDDEN
    assert Report.objects.open().count() == 3
    assert log_entries(CsrfClient().get("/moderation/")) == [
        {
            "who": "The site, automatically,",
            "what": "hid a post:",
            "target": f"post #{post.pk} in {topic.title}",
            "links": [f"/p/{post.pk}/", f"/t/{topic.slug}/"],
            "reason": f"Reason: {AUTO_HIDDEN}",
        }
    ]


def test_one_reader_reporting_twice_counts_once(settings, reader, topic):
    settings.STANDPOINT_REPORT_THRESHOLD = 2
    post = make_post(topic=topic)

    assert report(reader, post, "spam").status_code == 302
    assert report(reader, post, "harassment").status_code == 409

    post.refresh_from_db()
    assert post.status == PostStatus.PUBLISHED
    assert not ModerationAction.objects.exists()


@pytest.mark.parametrize("threshold", [2, 4])
def test_the_report_threshold_follows_the_setting(settings, topic, threshold):
    settings.STANDPOINT_REPORT_THRESHOLD = threshold
    post = make_post(topic=topic)
    readers = [signed_in(make_user()) for _ in range(threshold)]
    assertContains(
        readers[0].get(report_url(post)),
        f"Reports from {threshold} different readers hide a post",
    )

    for n, client in enumerate(readers, start=1):
        assert report(client, post, "off_topic").status_code == 302
        post.refresh_from_db()
        expected = PostStatus.HIDDEN if n == threshold else PostStatus.PUBLISHED
        assert post.status == expected

    assert post.hidden_reason == (
        f"Hidden automatically pending review: {threshold} readers reported it."
    )
    assert ModerationAction.objects.filter(actor=None, action="hide").count() == 1


# Reviewing what the threshold hid ---------------------------------------------


def hidden_by_reports(topic, body="A fair but unpopular opinion.") -> Post:
    """A post three readers' reports hid pending review."""
    post = make_post(topic=topic, body=body)
    for _ in range(3):
        file_report(post, "spam")
    post.refresh_from_db()
    assert (post.status, post.hidden_reason) == (PostStatus.HIDDEN, AUTO_HIDDEN)
    return post


def test_dismissing_the_reports_restores_a_post_the_threshold_hid(staff, topic):
    post = hidden_by_reports(topic)
    before = log_ids()
    reason = "Not spam: a brigade against an unpopular view."

    response = confirm(staff, QUEUE, "dismiss_reports", [post], reason, follow=True)

    assert response.redirect_chain == [(QUEUE, 302)]
    assert messages_shown(response) == ["3 report(s) dismissed."]
    post.refresh_from_db()
    assert (post.status, post.hidden_reason) == (PostStatus.PUBLISHED, "")
    assert set(post.reports.values_list("status", flat=True)) == {
        ReportStatus.DISMISSED
    }
    assert sorted(
        (row.action, row.post_id, row.actor, row.reason) for row in new_log_rows(before)
    ) == [
        ("dismiss_reports", post.pk, staff.user, reason),
        ("restore", post.pk, staff.user, reason),
    ]
    thread = CsrfClient().get(f"/t/{topic.slug}/")
    assert "A fair but unpopular opinion." in squash(post_block(thread, post))
    assert Topic.objects.get(pk=topic.pk).hidden_count == 0


def test_upholding_the_reports_puts_the_moderators_reason_on_the_tombstone(
    staff, topic
):
    post = hidden_by_reports(topic, body="Buy cheap watches.")
    before = log_ids()
    reason = "Advertising for watches."

    response = confirm(staff, QUEUE, "hide_reported_posts", [post], reason, follow=True)

    assert messages_shown(response) == ["3 report(s) upheld and their posts hidden."]
    post.refresh_from_db()
    assert (post.status, post.hidden_reason) == (PostStatus.HIDDEN, reason)
    assert sorted(
        (row.action, row.post_id, row.actor, row.reason) for row in new_log_rows(before)
    ) == [
        ("hide", post.pk, staff.user, reason),
        ("uphold_reports", post.pk, staff.user, reason),
    ]
    thread = CsrfClient().get(f"/t/{topic.slug}/")
    assert squash(post_block(thread, post)) == (
        f"#{post.pk} Hidden by moderators: Advertising for watches."
    )
    assertNotContains(thread, "Hidden automatically pending review")


def test_restoring_a_reported_post_dismisses_its_reports(staff, topic):
    post = hidden_by_reports(topic)
    before = log_ids()
    reason = "Reviewed: on topic and civil."

    response = confirm(staff, POSTS, "restore_posts", [post], reason, follow=True)

    assert messages_shown(response) == ["1 post(s) restored."]
    post.refresh_from_db()
    assert (post.status, post.hidden_reason) == (PostStatus.PUBLISHED, "")
    assert (
        list(post.reports.values_list("status", "resolved_by"))
        == [(ReportStatus.DISMISSED, staff.user.pk)] * 3
    )
    assert sorted(
        (row.action, row.post_id, row.actor, row.reason) for row in new_log_rows(before)
    ) == [
        ("dismiss_reports", post.pk, staff.user, reason),
        ("restore", post.pk, staff.user, reason),
    ]

    # One more reader's report starts a new count; it does not hide the post.
    assert report(signed_in(make_user()), post, "spam").status_code == 302

    post.refresh_from_db()
    assert post.status == PostStatus.PUBLISHED
    assert post.reports.open().count() == 1


def test_dismissing_reports_leaves_a_post_a_moderator_hid_hidden(
    staff, topic, moderator
):
    post = make_post(topic=topic, body="You are all fools.")
    file_report(post, "harassment")
    hide(post, "Insults, not argument.", actor=moderator)
    before = log_ids()
    reason = "The report was about something else."

    response = confirm(staff, QUEUE, "dismiss_reports", [post], reason)

    assert response.status_code == 302
    post.refresh_from_db()
    assert (post.status, post.hidden_reason) == (
        PostStatus.HIDDEN,
        "Insults, not argument.",
    )
    assert list(post.reports.values_list("status", flat=True)) == [
        ReportStatus.DISMISSED
    ]
    assert [(row.action, row.post_id) for row in new_log_rows(before)] == [
        ("dismiss_reports", post.pk)
    ]


def test_disputing_the_disclosure_restores_a_post_the_threshold_hid(staff, topic):
    """The text stands; only its disclosure is in question, which the log records."""
    post = make_post(topic=topic, body="Open models keep defenders ahead.")
    for _ in range(3):
        file_report(post, "undisclosed_interest")
    before = log_ids()
    reason = "Works for a model vendor and did not say so."

    response = confirm(staff, QUEUE, "dispute_disclosures", [post], reason, follow=True)

    assert messages_shown(response) == [
        "3 report(s) upheld and the disclosures disputed."
    ]
    post.refresh_from_db()
    assert (post.status, post.hidden_reason) == (PostStatus.PUBLISHED, "")
    assert set(post.reports.values_list("status", flat=True)) == {ReportStatus.DISPUTED}
    assert sorted(
        (row.action, row.post_id, row.actor, row.reason) for row in new_log_rows(before)
    ) == [
        ("dispute_disclosure", post.pk, staff.user, reason),
        ("restore", post.pk, staff.user, reason),
        ("uphold_reports", post.pk, staff.user, reason),
    ]
    thread = CsrfClient().get(f"/t/{topic.slug}/")
    block = post_block(thread, post)
    assert "tombstone" not in block
    assert "Open models keep defenders ahead." in squash(block)
    assert Topic.objects.get(pk=topic.pk).hidden_count == 0


def test_disputing_the_disclosure_leaves_a_post_a_moderator_hid_hidden(
    staff, topic, moderator
):
    post = make_post(topic=topic, body="You are all fools.")
    file_report(post, "undisclosed_interest")
    hide(post, "Insults, not argument.", actor=moderator)
    before = log_ids()
    reason = "Works for a model vendor and did not say so."

    response = confirm(staff, QUEUE, "dispute_disclosures", [post], reason)

    assert response.status_code == 302
    post.refresh_from_db()
    assert (post.status, post.hidden_reason) == (
        PostStatus.HIDDEN,
        "Insults, not argument.",
    )
    assert sorted(row.action for row in new_log_rows(before)) == [
        "dispute_disclosure",
        "uphold_reports",
    ]


def test_a_moderator_hiding_a_post_the_threshold_hid_takes_it_over(staff, topic):
    post = hidden_by_reports(topic, body="Buy cheap watches.")
    before = log_ids()
    reason = "Advertising for watches."

    response = confirm(staff, POSTS, "hide_posts", [post], reason, follow=True)

    assert messages_shown(response) == ["1 post(s) hidden."]
    post.refresh_from_db()
    assert (post.status, post.hidden_reason) == (PostStatus.HIDDEN, reason)
    assert [
        (row.action, row.post_id, row.actor, row.reason) for row in new_log_rows(before)
    ] == [("hide", post.pk, staff.user, reason)]
    thread = CsrfClient().get(f"/t/{topic.slug}/")
    assert squash(post_block(thread, post)) == (
        f"#{post.pk} Hidden by moderators: Advertising for watches."
    )

    # The latest hiding is now a moderator's: dismissing the reports keeps it.
    confirm(staff, QUEUE, "dismiss_reports", [post], "The reports were not needed.")

    post.refresh_from_db()
    assert (post.status, post.hidden_reason) == (PostStatus.HIDDEN, reason)
    assert post.reports.open().count() == 0


def test_the_same_readers_cannot_hide_again_a_post_a_moderator_restored(staff, topic):
    post = make_post(topic=topic, body="A fair but unpopular opinion.")
    readers = [make_user() for _ in range(3)]
    for reader in readers:
        file_report(post, "spam", reporter=reader)
    post.refresh_from_db()
    assert post.status == PostStatus.HIDDEN
    confirm(staff, POSTS, "restore_posts", [post], "Reviewed: on topic and civil.")
    before = log_ids()

    for reader in readers:
        assert report(signed_in(reader), post, "spam").status_code == 302

    post.refresh_from_db()
    assert (post.status, post.hidden_reason) == (PostStatus.PUBLISHED, "")
    assert sorted(post.reports.values_list("reporter", "status")) == sorted(
        [(reader.pk, ReportStatus.DISMISSED) for reader in readers]
        + [(reader.pk, ReportStatus.OPEN) for reader in readers]
    )
    assert new_log_rows(before) == []
    rows = queue_rows(staff.get(QUEUE))
    assert [(row["open_reports"], row["reasons"]) for row in rows] == [("3", "Spam ×3")]


def test_new_readers_still_reach_the_threshold_on_a_restored_post(staff, topic):
    post = make_post(topic=topic, body="Buy cheap watches, again.")
    for _ in range(3):
        file_report(post, "spam")
    confirm(staff, POSTS, "restore_posts", [post], "Reviewed: let it stand.")

    for reader in [make_user() for _ in range(3)]:
        assert report(signed_in(reader), post, "spam").status_code == 302

    post.refresh_from_db()
    assert post.status == PostStatus.HIDDEN
    assert post.hidden_reason.startswith("Hidden automatically pending review")


# The report queue -----------------------------------------------------------


def test_report_queue_lists_reported_posts_with_counts_reasons_text_and_disclosure(
    staff, topic, settings
):
    settings.STANDPOINT_REPORT_THRESHOLD = 10
    watches = make_post(topic=topic, body="Buy cheap watches.", **AI)
    for _ in range(2):
        file_report(watches, "spam")
    mixed = make_post(topic=topic, body="Defenders lose tools.")
    file_report(mixed, "off_topic")
    file_report(mixed, "wrong_stance")
    make_post(topic=topic, body="Nobody minds this one.")

    response = staff.get(QUEUE)

    assert response.status_code == 200
    rows = {
        row["post_and_disclosure"].split(" Disclosure:")[0]: row
        for row in queue_rows(response)
    }
    assert set(rows) == {"Buy cheap watches.", "Defenders lose tools."}
    assert rows["Buy cheap watches."]["open_reports"] == "2"
    assert rows["Buy cheap watches."]["reasons"] == "Spam ×2"
    assert rows["Buy cheap watches."]["post_and_disclosure"] == (
        "Buy cheap watches. Disclosure: AI-generated with Claude (Anthropic) — "
        "Anthropic is a party to this debate · Affiliation: none · Not paid · "
        "No declared conflicts"
    )
    assert rows["Defenders lose tools."]["open_reports"] == "2"
    assert set(rows["Defenders lose tools."]["reasons"].split("; ")) == {
        "Off topic ×1",
        "The stance tags misrepresent the reply ×1",
    }
    assert "Human-written" in rows["Defenders lose tools."]["post_and_disclosure"]


def test_report_queue_puts_open_reports_before_resolved_ones(staff, topic, moderator):
    # The settled post is older and has the newest report: only open reports
    # can put the pending post first.
    settled = make_post(topic=topic, body="Already decided.")
    pending = make_post(topic=topic, body="Still waiting.")
    file_report(pending, "spam")
    file_report(settled, "spam")
    file_report(settled, "harassment")
    services.reports_resolve(
        posts=Post.objects.filter(pk=settled.pk),
        outcome=ReportStatus.DISMISSED,
        actor=moderator,
        reason="Fair criticism.",
    )

    rows = queue_rows(staff.get(QUEUE))

    assert [row["post_and_disclosure"].split(" Disclosure:")[0] for row in rows] == [
        "Still waiting.",
        "Already decided.",
    ]
    assert [(row["open_reports"], row["reasons"]) for row in rows] == [
        ("1", "Spam ×1"),
        ("0", "—"),
    ]


QUEUE_OUTCOMES = [
    (
        "dismiss_reports",
        ReportStatus.DISMISSED,
        PostStatus.PUBLISHED,
        ["dismiss_reports"],
        "2 report(s) dismissed.",
    ),
    (
        "hide_reported_posts",
        ReportStatus.HIDDEN,
        PostStatus.HIDDEN,
        ["uphold_reports", "hide"],
        "2 report(s) upheld and their posts hidden.",
    ),
    (
        "dispute_disclosures",
        ReportStatus.DISPUTED,
        PostStatus.PUBLISHED,
        ["uphold_reports", "dispute_disclosure"],
        "2 report(s) upheld and the disclosures disputed.",
    ),
]


@pytest.mark.parametrize(
    ("action", "report_status", "post_status", "kinds", "done"), QUEUE_OUTCOMES
)
def test_queue_action_with_a_reason_resolves_the_reports_and_logs_it(
    staff, scene, action, report_status, post_status, kinds, done
):
    other = make_post(topic=scene.topic, body="Another reported post.")
    file_report(other, "harassment")
    before = log_ids()
    reason = "Judged against the disclosure rules."

    response = confirm(staff, QUEUE, action, [scene.reported], reason, follow=True)

    assert response.redirect_chain == [(QUEUE, 302)]
    assert messages_shown(response) == [done]
    reports = scene.reported.reports.all()
    assert {r.status for r in reports} == {report_status}
    assert {r.resolved_by for r in reports} == {staff.user}
    assert all(r.resolved_at for r in reports)
    post = Post.objects.get(pk=scene.reported.pk)
    assert post.status == post_status
    assert post.hidden_reason == (reason if post_status == PostStatus.HIDDEN else "")
    logged = new_log_rows(before)
    assert sorted(row.action for row in logged) == sorted(kinds)
    for row in logged:
        assert (row.actor, row.post, row.topic, row.reason) == (
            staff.user,
            post,
            scene.topic,
            reason,
        )
    # The other reported post was not selected and is untouched.
    assert list(other.reports.values_list("status", flat=True)) == ["open"]


def test_queue_actions_touch_only_posts_that_have_reports(staff, scene):
    before = snapshot()

    response = confirm(
        staff, QUEUE, "hide_reported_posts", [scene.plain], "Smuggled id."
    )

    assert response.status_code == 302
    assert snapshot() == before


def test_reported_post_page_shows_its_reports_read_only(staff, scene):
    url = f"{QUEUE}{scene.reported.pk}/change/"

    response = staff.get(url)

    assert response.status_code == 200
    for text in (
        "A link to a watch shop.",
        "Nothing about export rules.",
        "Spam",
        "Off topic",
        "Buy cheap watches.",
    ):
        assertContains(response, text)
    assert "AI-generated with Claude (Anthropic)" in squash(page(response))
    assertNotContains(response, 'name="_save"')
    assertNotContains(response, 'name="body"')
    assertNotContains(response, 'name="reports-0-reason"')

    before = snapshot()
    edited = staff.post(url, {"body": "Rewritten by a moderator.", "status": "hidden"})
    assert edited.status_code == 403
    assert snapshot() == before


def test_reported_post_page_queries_do_not_grow_with_reports(
    settings, moderator, topic, django_assert_max_num_queries
):
    settings.STANDPOINT_REPORT_THRESHOLD = 100  # every post stays up, reports open
    client = signed_in(moderator)
    counts = []
    for size in (1, 20):
        post = make_post(topic=topic, body=f"Reported {size} times.")
        for n in range(size):
            file_report(post, "other", f"Report number {n}.")
        url = f"{QUEUE}{post.pk}/change/"
        client.get(url)  # Django caches the content type after the first page
        with django_assert_max_num_queries(QUEUE_PAGE_QUERIES) as ctx:
            response = client.get(url)
        assert response.status_code == 200
        for n in range(size):
            assertContains(response, f"Report number {n}.", count=1)
        counts.append(len(ctx))

    assert counts[0] == counts[1]


# Every action asks for a reason -------------------------------------------

# (admin changelist, action, the scene's object it would change)
ACTIONS = [
    (POSTS, "hide_posts", "plain"),
    (POSTS, "restore_posts", "hidden"),
    (TOPICS, "lock_topics", "topic"),
    (TOPICS, "unlock_topics", "flagged"),
    (TOPICS, "pin_topics", "topic"),
    (TOPICS, "unpin_topics", "flagged"),
    (QUEUE, "dismiss_reports", "reported"),
    (QUEUE, "hide_reported_posts", "reported"),
    (QUEUE, "dispute_disclosures", "reported"),
]


@pytest.mark.parametrize(("url", "action", "target"), ACTIONS)
def test_moderator_action_first_asks_for_the_public_reason(
    staff, scene, url, action, target
):
    chosen = getattr(scene, target)
    before = snapshot()

    response = ask_reason(staff, url, action, [chosen])

    assert response.status_code == 200
    assertTemplateUsed(response, REASON_PAGE)
    assertContains(response, "Public reason")
    assertContains(response, f"<li>{chosen}</li>", html=True)
    assert form_values(page(response))["action"] == [action]
    assert form_values(page(response))["_selected_action"] == [str(chosen.pk)]
    assert snapshot() == before


@pytest.mark.parametrize(("url", "action", "target"), ACTIONS)
@pytest.mark.parametrize("reason", ["", "   "])
def test_moderator_action_without_a_reason_changes_nothing(
    staff, scene, url, action, target, reason
):
    chosen = getattr(scene, target)
    before = snapshot()

    response = confirm(staff, url, action, [chosen], reason)

    assert response.status_code == 200
    assertTemplateUsed(response, REASON_PAGE)
    assertContains(response, REASON_REQUIRED)
    assert snapshot() == before


def test_hide_posts_hides_and_logs_each_changed_post_only(staff, scene):
    second = make_post(topic=scene.topic, body="Also advertising.")
    before = log_ids()

    response = confirm(
        staff,
        POSTS,
        "hide_posts",
        [scene.plain, scene.hidden, second],
        "Off-topic advertising.",
        follow=True,
    )

    assert response.redirect_chain == [(POSTS, 302)]
    assert messages_shown(response) == ["2 post(s) hidden."]
    statuses = dict(Post.objects.values_list("pk", "hidden_reason"))
    assert statuses[scene.plain.pk] == "Off-topic advertising."
    assert statuses[second.pk] == "Off-topic advertising."
    assert statuses[scene.hidden.pk] == "Insults, not argument."
    logged = new_log_rows(before)
    assert sorted((row.action, row.post_id) for row in logged) == sorted(
        [("hide", scene.plain.pk), ("hide", second.pk)]
    )
    assert {(row.actor, row.reason) for row in logged} == {
        (staff.user, "Off-topic advertising.")
    }


def test_restore_posts_restores_and_logs_each_changed_post_only(staff, scene):
    before = log_ids()

    response = confirm(
        staff,
        POSTS,
        "restore_posts",
        [scene.hidden, scene.plain],
        "Harsh but on topic.",
        follow=True,
    )

    assert messages_shown(response) == ["1 post(s) restored."]
    restored = Post.objects.get(pk=scene.hidden.pk)
    assert (restored.status, restored.hidden_reason) == (PostStatus.PUBLISHED, "")
    assert Post.objects.get(pk=scene.plain.pk).status == PostStatus.PUBLISHED
    assert [
        (row.action, row.post_id, row.actor, row.reason) for row in new_log_rows(before)
    ] == [("restore", scene.hidden.pk, staff.user, "Harsh but on topic.")]


@pytest.mark.parametrize(
    ("action", "flag", "value", "done"),
    [
        ("lock_topics", "is_locked", True, "1 topic(s) locked."),
        ("unlock_topics", "is_locked", False, "1 topic(s) unlocked."),
        ("pin_topics", "is_pinned", True, "1 topic(s) pinned."),
        ("unpin_topics", "is_pinned", False, "1 topic(s) unpinned."),
    ],
)
def test_topic_flag_action_logs_each_topic_it_changes(
    staff, scene, action, flag, value, done
):
    changing = scene.flagged if value is False else scene.topic
    before = log_ids()

    response = confirm(
        staff,
        TOPICS,
        action,
        [scene.topic, scene.flagged],
        "The debate ran its course.",
        follow=True,
    )

    assert response.redirect_chain == [(TOPICS, 302)]
    assert messages_shown(response) == [done]
    flags = dict(Topic.objects.values_list("pk", flag))
    assert flags == {scene.topic.pk: value, scene.flagged.pk: value}
    assert [
        (row.action, row.topic_id, row.post_id, row.actor, row.reason)
        for row in new_log_rows(before)
    ] == [
        (
            action.removesuffix("_topics"),
            changing.pk,
            None,
            staff.user,
            "The debate ran its course.",
        )
    ]


def test_post_change_form_cannot_hide_a_post(staff, scene):
    url = f"{POSTS}{scene.plain.pk}/change/"
    shown = staff.get(url)
    assertNotContains(shown, 'name="status"')
    assertNotContains(shown, 'name="hidden_reason"')
    before = log_ids()

    response = staff.post(
        url,
        change_form_data(
            shown,
            body="Defenders lose tools, still.",
            status="hidden",
            hidden_reason="Sneaky.",
            reason="Tidied the wording.",
        ),
    )

    assertRedirects(response, POSTS, fetch_redirect_response=False)
    post = Post.objects.get(pk=scene.plain.pk)
    assert post.body == "Defenders lose tools, still."
    assert (post.status, post.hidden_reason) == (PostStatus.PUBLISHED, "")
    # The edit is logged as an edit, with its reason; nothing was hidden.
    assert [(row.action, row.reason) for row in new_log_rows(before)] == [
        ("edit_post", "Tidied the wording.")
    ]


def test_post_change_form_cannot_restore_a_post(staff, scene):
    url = f"{POSTS}{scene.hidden.pk}/change/"
    shown = staff.get(url)

    response = staff.post(
        url,
        change_form_data(
            shown, status="published", body="Insults, redacted.", reason="Redacted."
        ),
    )

    assertRedirects(response, POSTS, fetch_redirect_response=False)
    post = Post.objects.get(pk=scene.hidden.pk)
    assert (post.status, post.hidden_reason) == (
        PostStatus.HIDDEN,
        "Insults, not argument.",
    )


def test_topic_change_form_cannot_lock_or_pin(staff, scene):
    url = f"{TOPICS}{scene.topic.pk}/change/"
    shown = staff.get(url)
    assertNotContains(shown, 'name="is_locked"')
    assertNotContains(shown, 'name="is_pinned"')
    before = log_ids()

    response = staff.post(
        url,
        change_form_data(
            shown, title="Export ban, revisited", is_locked="on", is_pinned="on"
        ),
    )

    assertRedirects(response, TOPICS, fetch_redirect_response=False)
    topic = Topic.objects.get(pk=scene.topic.pk)
    assert topic.title == "Export ban, revisited"
    assert (topic.is_locked, topic.is_pinned) == (False, False)
    assert new_log_rows(before) == []


def test_topic_change_form_cannot_unlock_or_unpin(staff, scene):
    url = f"{TOPICS}{scene.flagged.pk}/change/"
    shown = staff.get(url)
    # Cleared checkboxes send nothing: an editable flag would become False.
    data = change_form_data(shown, title="A settled debate, reopened?")
    data.pop("is_locked", None)
    data.pop("is_pinned", None)

    response = staff.post(url, data)

    assertRedirects(response, TOPICS, fetch_redirect_response=False)
    topic = Topic.objects.get(pk=scene.flagged.pk)
    assert topic.title == "A settled debate, reopened?"
    assert (topic.is_locked, topic.is_pinned) == (True, True)


# The public moderation log --------------------------------------------------


@pytest.fixture
def logged(moderator, topic, other_topic):
    """Three actions in order: a post hidden, another topic locked, the post restored."""
    post = make_post(topic=topic, body="Buy cheap watches.")
    hide(post, "Advertising.", actor=moderator)
    services.topics_set_flag(
        topics=Topic.objects.filter(pk=other_topic.pk),
        flag="is_locked",
        value=True,
        actor=moderator,
        reason="Flame war.",
    )
    services.posts_set_status(
        posts=Post.objects.filter(pk=post.pk),
        status=PostStatus.PUBLISHED,
        actor=moderator,
        reason="On appeal: it was a joke.",
    )
    return post


def test_log_lists_actions_newest_first_with_targets_and_reasons(
    csrf_client, logged, topic, other_topic
):
    response = csrf_client.get("/moderation/")

    assert response.status_code == 200
    post_target = f"post #{logged.pk} in {topic.title}"
    post_links = [f"/p/{logged.pk}/", f"/t/{topic.slug}/"]
    assert log_entries(response) == [
        {
            "who": "A moderator",
            "what": f"{ModerationKind.RESTORE.label}:",
            "target": post_target,
            "links": post_links,
            "reason": "Reason: On appeal: it was a joke.",
        },
        {
            "who": "A moderator",
            "what": f"{ModerationKind.LOCK.label}:",
            "target": other_topic.title,
            "links": [f"/t/{other_topic.slug}/"],
            "reason": "Reason: Flame war.",
        },
        {
            "who": "A moderator",
            "what": f"{ModerationKind.HIDE.label}:",
            "target": post_target,
            "links": post_links,
            "reason": "Reason: Advertising.",
        },
    ]


def test_log_shows_suspensions_and_proposal_decisions(csrf_client, moderator, topic):
    spammer = make_user(username="spammer")
    until = timezone.now() + timedelta(days=7)
    services.user_suspend(
        user=spammer, until=until, reason="Spam account.", actor=moderator
    )
    proposal = services.position_propose(
        topic=topic,
        author=make_user(),
        claim="Watches are cheap",
        attested=True,
        disclosure=disclosure(),
    )
    services.proposals_decide(
        proposals=PositionProposal.objects.filter(pk=proposal.pk),
        approve=False,
        actor=moderator,
        reason="Not a claim in this debate.",
    )

    entries = log_entries(csrf_client.get("/moderation/"))

    assert [(e["what"], e["target"], e["reason"]) for e in entries] == [
        (
            f"{ModerationKind.REJECT_POSITION.label}:",
            f"a proposed position in {topic.title}",
            "Reason: Not a claim in this debate.",
        ),
        (
            f"{ModerationKind.SUSPEND.label}:",
            f"spammer, until {until.day} {until:%b %Y, %H:%M} UTC",
            "Reason: Spam account.",
        ),
    ]
    assert entries[0]["links"] == [f"/t/{topic.slug}/"]


def test_log_shows_an_approved_claim_but_never_a_rejected_one(
    csrf_client, moderator, topic
):
    """A rejected claim may be spam or abuse: the public log must not publish it."""
    rejected, approved = (
        services.position_propose(
            topic=topic,
            author=make_user(),
            claim=claim,
            attested=True,
            disclosure=disclosure(),
        )
        for claim in ("BUY CHEAP PILLS AT evil.example", "Defenders should be exempt")
    )
    for proposal, approve, reason in (
        (rejected, False, "Spam."),
        (approved, True, "Adds a side."),
    ):
        services.proposals_decide(
            proposals=PositionProposal.objects.filter(pk=proposal.pk),
            approve=approve,
            actor=moderator,
            reason=reason,
        )

    for url in ("/moderation/", f"/moderation/?topic={topic.slug}"):
        response = csrf_client.get(url)

        assert [
            (e["what"], e["target"], e["reason"]) for e in log_entries(response)
        ] == [
            (
                f"{ModerationKind.APPROVE_POSITION.label}:",
                f"“Defenders should be exempt” in {topic.title}",
                "Reason: Adds a side.",
            ),
            (
                f"{ModerationKind.REJECT_POSITION.label}:",
                f"a proposed position in {topic.title}",
                "Reason: Spam.",
            ),
        ]
        assertNotContains(response, "BUY CHEAP PILLS")
        assertNotContains(response, "evil.example")


@pytest.mark.parametrize(
    ("shows_moderators", "who"), [(False, "A moderator"), (True, "moderator")]
)
def test_log_names_moderators_only_when_settings_say_so(
    csrf_client, settings, logged, shows_moderators, who
):
    settings.STANDPOINT_LOG_SHOWS_MODERATORS = shows_moderators

    entries = log_entries(csrf_client.get("/moderation/"))

    assert [entry["who"] for entry in entries] == [who, who, who]


def test_log_filters_by_topic(csrf_client, logged, topic, other_topic):
    response = csrf_client.get(f"/moderation/?topic={other_topic.slug}")

    assert response.status_code == 200
    assert [(e["what"], e["reason"]) for e in log_entries(response)] == [
        (f"{ModerationKind.LOCK.label}:", "Reason: Flame war.")
    ]
    assert form_values(page(response))["topic"] == [other_topic.slug]

    response = csrf_client.get(f"/moderation/?topic={topic.slug}")
    assert [e["reason"] for e in log_entries(response)] == [
        "Reason: On appeal: it was a joke.",
        "Reason: Advertising.",
    ]


def test_log_filtered_to_a_quiet_topic_says_so(csrf_client, logged):
    quiet = make_topic(title="Nothing happens here")

    response = csrf_client.get(f"/moderation/?topic={quiet.slug}")

    assert log_entries(response) == []
    assertContains(response, "No moderation actions in this topic yet.")


def test_log_refuses_an_unknown_topic(csrf_client, logged):
    response = csrf_client.get("/moderation/?topic=no-such-topic")

    assert response.status_code == 400
    assertContains(response, NO_SUCH_TOPIC, status_code=400)


def test_log_is_paged(csrf_client, settings, logged):
    settings.STANDPOINT_POSTS_PER_PAGE = 2

    first = csrf_client.get("/moderation/")
    second = csrf_client.get("/moderation/?page=2")

    assert [e["reason"] for e in log_entries(first)] == [
        "Reason: On appeal: it was a joke.",
        "Reason: Flame war.",
    ]
    assert [e["reason"] for e in log_entries(second)] == ["Reason: Advertising."]
    assertContains(first, "Page 1 of 2")
    assertContains(first, 'href="?page=2"')
    assertContains(second, "Page 2 of 2")
    assert csrf_client.get("/moderation/?page=3").status_code == 404


def make_log(count: int, moderator) -> None:
    """`count` log rows cycling through every kind of target the log names."""
    topic = make_topic()
    post = make_post(topic=topic)
    suspension = services.user_suspend(
        user=make_user(),
        until=timezone.now() + timedelta(days=1),
        reason="Spam.",
        actor=moderator,
    )
    proposal = services.position_propose(
        topic=topic,
        author=make_user(),
        claim="A new claim",
        attested=True,
        disclosure=disclosure(),
    )
    targets = [
        {"action": "hide", "post": post, "topic": topic},
        {"action": "lock", "topic": topic},
        {"action": "suspend", "suspension": suspension},
        {"action": "reject_position", "proposal": proposal, "topic": topic},
    ]
    ModerationAction.objects.all().delete()
    ModerationAction.objects.bulk_create(
        ModerationAction(actor=moderator, reason=f"Reason {n}.", **targets[n % 4])
        for n in range(count)
    )


def test_log_page_queries_do_not_grow_with_entries(
    csrf_client, settings, moderator, django_assert_max_num_queries
):
    settings.STANDPOINT_LOG_SHOWS_MODERATORS = True
    settings.STANDPOINT_POSTS_PER_PAGE = 50  # every entry on the one page
    counts = []
    for size in (1, 30):
        make_log(size, moderator)
        with django_assert_max_num_queries(3) as ctx:
            response = csrf_client.get("/moderation/")
        assert len(log_entries(response)) == size
        counts.append(len(ctx))

    assert counts[0] == counts[1]


# Tombstones ---------------------------------------------------------------


@pytest.fixture
def thread(topic, moderator):
    """Three replies, the middle one hidden by a moderator."""
    first = make_post(topic=topic, body="Defenders lose tools.")
    spam = make_post(topic=topic, body="Buy cheap watches.")
    last = make_post(topic=topic, body="The ban is narrow.")
    hide(spam, "Advertising for watches.", actor=moderator)
    return first, spam, last


@pytest.mark.parametrize("who", ["anonymous", "reader"])
def test_readers_see_a_tombstone_in_the_hidden_posts_place(request, topic, thread, who):
    client = CsrfClient()
    if who == "reader":
        client.force_login(request.getfixturevalue("user"))
    first, spam, last = thread

    response = client.get(f"/t/{topic.slug}/")

    assert response.status_code == 200
    assert shown_post_ids(response) == [first.pk, spam.pk, last.pk]
    tombstone = post_block(response, spam)
    assert 'class="post tombstone"' in tombstone
    assert (
        squash(tombstone)
        == f"#{spam.pk} Hidden by moderators: Advertising for watches."
    )
    assertNotContains(response, "Buy cheap watches.")
    assertContains(response, "The ban is narrow.")


def test_staff_see_the_hidden_post_marked_hidden(staff, topic, thread):
    _, spam, _ = thread

    response = staff.get(f"/t/{topic.slug}/")

    block = post_block(response, spam)
    assert 'class="post hidden-post"' in block
    assert "Hidden by moderators (visible to staff only): Advertising for watches." in (
        squash(block)
    )
    assert "Buy cheap watches." in squash(block)


@pytest.mark.parametrize("who", [None, "user", "moderator", "superuser"])
def test_permalink_of_a_hidden_post_leads_to_its_tombstone(request, topic, thread, who):
    client = CsrfClient()
    if who:
        client.force_login(request.getfixturevalue(who))
    _, spam, _ = thread

    response = client.get(f"/p/{spam.pk}/")

    assertRedirects(
        response, f"/t/{topic.slug}/#p{spam.pk}", fetch_redirect_response=False
    )


def test_thread_reply_count_mentions_hidden_replies(csrf_client, topic, thread):
    response = csrf_client.get(f"/t/{topic.slug}/")

    line = re.search(r'<p class="result-count">(.*?)</p>', page(response), re.S)
    assert squash(line.group(1)) == (
        "2 replies, and 1 hidden by moderators (see the moderation log)."
    )
    assert f'href="/moderation/?topic={topic.slug}"' in line.group(1)


# The log cannot be edited in the admin ------------------------------------------


def test_moderation_log_rows_cannot_be_added_changed_or_deleted(staff, scene):
    row = ModerationAction.objects.get()  # the scene's hidden post
    change, delete = f"{LOG_ADMIN}{row.pk}/change/", f"{LOG_ADMIN}{row.pk}/delete/"
    before = snapshot()

    listing = staff.get(LOG_ADMIN)
    assert listing.status_code == 200
    assertContains(listing, "Insults, not argument.")
    assertNotContains(listing, "delete_selected")
    assert staff.get(f"{LOG_ADMIN}add/").status_code == 403
    assert (
        staff.post(
            f"{LOG_ADMIN}add/",
            {"action": "hide", "reason": "Forged.", "post": row.post_id},
        ).status_code
        == 403
    )
    assert staff.get(delete).status_code == 403
    assert staff.post(delete, {"post": "yes"}).status_code == 403
    assert (
        staff.post(
            change, {"action": "restore", "reason": "Rewritten history."}
        ).status_code
        == 403
    )
    assert (
        staff.post(
            LOG_ADMIN,
            {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"},
        ).status_code
        == 200
    )
    assert snapshot() == before


def test_moderation_log_change_page_is_read_only(staff, scene):
    row = ModerationAction.objects.get()

    response = staff.get(f"{LOG_ADMIN}{row.pk}/change/")

    assert response.status_code == 200
    assertContains(response, "Insults, not argument.")
    assertNotContains(response, 'name="_save"')
    assertNotContains(response, 'name="reason"')


def test_moderator_is_staff_without_superuser_rights(moderator):
    assert moderator.is_staff
    assert not moderator.is_superuser
    assert moderator.groups.filter(name="Moderators").exists()


# IDOR: readers cannot moderate by sending ids --------------------------------

READER_ATTEMPTS = [
    *ACTIONS,
    (PROPOSALS, "approve_proposals", "proposal"),
    (PROPOSALS, "reject_proposals", "proposal"),
]


@pytest.mark.parametrize(("url", "action", "target"), READER_ATTEMPTS)
def test_reader_cannot_run_moderator_actions(reader, scene, url, action, target):
    hold_csrf_token(reader)
    before = snapshot()

    response = confirm(reader, url, action, [getattr(scene, target)], "Because.")

    assertRedirects(
        response, f"/admin/login/?next={url}", fetch_redirect_response=False
    )
    assert snapshot() == before


def test_reader_cannot_edit_a_post_through_its_admin_page(reader, scene):
    url = f"{POSTS}{scene.plain.pk}/change/"
    hold_csrf_token(reader)
    before = snapshot()

    response = reader.post(url, {"body": "Rewritten.", "status": "hidden"})

    assertRedirects(
        response, f"/admin/login/?next={url}", fetch_redirect_response=False
    )
    assert snapshot() == before


def test_a_report_on_one_post_cannot_touch_another(reader, user, scene):
    target, bystander = scene.plain, scene.reported
    others = list(bystander.reports.values_list("pk", "status", "reporter"))

    response = reader.post(
        report_url(target),
        {
            "reason": "spam",
            "note": "",
            "post": bystander.pk,
            "reporter": scene.reported.author_id,
            "status": "dismissed",
        },
    )

    assert response.status_code == 302
    stored = Report.objects.get(reporter=user)
    assert (stored.post_id, stored.status) == (target.pk, ReportStatus.OPEN)
    assert list(bystander.reports.values_list("pk", "status", "reporter")) == others
    assert Post.objects.get(pk=bystander.pk).status == PostStatus.PUBLISHED


def test_suspended_users_reports_are_not_stored(reader, user, moderator, topic):
    post = make_post(topic=topic)
    services.user_suspend(
        user=user,
        until=timezone.now() + timedelta(days=3),
        reason="Pile-on.",
        actor=moderator,
    )

    response = report(reader, post, "spam", "Pile-on target.")

    assert response.status_code == 403
    assertContains(
        response,
        "Your account is suspended from posting and reporting until",
        status_code=403,
    )
    assertContains(response, "Moderators gave this reason: Pile-on.", status_code=403)
    assert not Report.objects.exists()
    assert Suspension.objects.active().filter(user=user).exists()
