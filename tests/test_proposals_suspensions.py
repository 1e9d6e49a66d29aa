import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from forum import services
from forum.models import (
    DISCLOSURE_TEXT_FIELDS,
    ModerationAction,
    Party,
    Position,
    PositionProposal,
    Post,
    ProposalStatus,
    Report,
    Stance,
    Suspension,
    Topic,
)

from .browser_form import form_values
from .conftest import CsrfClient
from .factories import HUMAN_DISCLOSURE, PASSWORD, disclosure, make_post, make_user
from .pages import (
    TIED_DISCLOSURE,
    as_typed,
    field_errors,
    filled,
    page,
    reply_url,
    signed_in,
    squash,
    summary_errors,
)

CLAIM = "Defenders should be exempt"
CLAIM_SLUG = "defenders-should-be-exempt"
THANKS = "Thank you: your proposal is waiting for a moderator."
NO_REASON = "Give a reason: the public moderation log shows it."
# Day 15: the reply page and the service's message both print it the same way.
UNTIL = datetime(2099, 3, 15, 18, 30, tzinfo=UTC)
UNTIL_TEXT = "15 March 2099, 18:30 UTC"
SUSPENSION_REASON = "Repeated pile-ons in the export-ban thread."
SUSPENDED = (
    f"Your account is suspended from posting and reporting until {UNTIL_TEXT}. "
    f"Moderators gave this reason: {SUSPENSION_REASON}"
)
PROPOSALS_ADMIN = "/admin/forum/positionproposal/"
SUSPENSIONS_ADMIN = "/admin/forum/suspension/"


# Reading helpers ----------------------------------------------------------


def typed_back(response) -> dict[str, list[str]]:
    """What the page's reply or proposal form would send back, empty values left out."""
    match = re.search(r'<form[^>]*class="reply-form".*?</form>', page(response), re.S)
    assert match, "no form on the page"
    return {
        name: values
        for name, values in form_values(match.group(0)).items()
        if values != [""] and name != "csrfmiddlewaretoken"
    }


def shown_text(response) -> str:
    return squash(page(response))


def positions_panel(response) -> str:
    match = re.search(r'<section class="positions".*?</section>', page(response), re.S)
    assert match, "no positions panel on the page"
    return squash(match.group(0))


def log_entries(response) -> list[str]:
    found = re.findall(r'<li class="modlog-entry[^"]*">.*?</li>', page(response), re.S)
    return [squash(entry) for entry in found]


def admin_errors(response) -> dict[str, list[str]]:
    return {
        name: list(errors)
        for name, errors in response.context["adminform"].form.errors.items()
    }


# Data and clients ------------------------------------------------------------


def propose_url(topic) -> str:
    return f"/t/{topic.slug}/positions/propose/"


def proposal_data(**changes):
    """Every field of the proposal form, filled in validly, with `changes` applied."""
    proposal = {
        "claim": CLAIM,
        "summary": "Security researchers need the models the ban covers.",
        "quote": "",
        **TIED_DISCLOSURE,
    }
    return filled(proposal, changes)


def reply_data(**changes):
    data = {
        "body": "Defenders need *these* models.",
        "stances": ["supports-ban-endangers-defenders"],
        "tags": "",
        "parent": "",
        **HUMAN_DISCLOSURE,
        "affiliation": "none",
        "attest": "on",
    }
    data.update(changes)
    return data


def propose(topic, author, claim=CLAIM):
    """A pending proposal made through the service, for tests about deciding it."""
    return services.position_propose(
        topic=topic, author=author, claim=claim, attested=True, disclosure=disclosure()
    )


def suspend(person, *, actor, until=UNTIL, reason=SUSPENSION_REASON):
    return services.user_suspend(user=person, until=until, reason=reason, actor=actor)


def run_action(client, url, action, objects, reason):
    """An admin action as a moderator clicks it: choose, then confirm with a reason."""
    chosen = [obj.pk for obj in objects]
    asked = client.post(url, {"action": action, "_selected_action": chosen, "index": 0})
    assert asked.status_code == 200
    assertContains(asked, "Public reason")
    return client.post(
        url, {"action": action, "_selected_action": chosen, "reason": reason}
    )


@pytest.fixture
def author(csrf_client, user):
    csrf_client.force_login(user)
    return csrf_client


@pytest.fixture(params=["superuser", "moderator"])
def staff(request, db):
    """A CSRF-checked client signed in as a superuser, then as a Moderators member.

    The signed-in account is `staff.person`.
    """
    if request.param == "superuser":
        person = make_user(username="root", is_staff=True, is_superuser=True)
    else:
        person = request.getfixturevalue("moderator")
    client = signed_in(person)
    client.person = person
    return client


# Proposing a position -------------------------------------------------------


def test_proposing_needs_an_account(csrf_client, topic):
    url = propose_url(topic)

    response = csrf_client.get(url)
    assertRedirects(
        response, f"/accounts/login/?next={url}", fetch_redirect_response=False
    )
    response = csrf_client.post(url, proposal_data())
    assertRedirects(
        response, f"/accounts/login/?next={url}", fetch_redirect_response=False
    )
    assert not PositionProposal.objects.exists()


def test_propose_page_shows_an_empty_form(author, topic):
    response = author.get(propose_url(topic))

    assert response.status_code == 200
    assertContains(response, "<h1>Propose a position</h1>", html=True)
    fields = form_values(
        re.search(r'<form[^>]*class="reply-form".*?</form>', page(response), re.S)[0]
    )
    assert {"claim", "summary", "quote", "affiliation", "paid_by"} <= set(fields)
    assertNotContains(response, "Your proposals for this debate")


def test_valid_proposal_waits_for_a_moderator_and_only_its_author_sees_it(
    author, user, topic
):
    response = author.post(propose_url(topic), proposal_data())

    assertRedirects(response, propose_url(topic), fetch_redirect_response=False)
    proposal = PositionProposal.objects.get()
    assert (proposal.topic, proposal.author) == (topic, user)
    assert proposal.claim == CLAIM
    assert proposal.summary == "Security researchers need the models the ban covers."
    assert proposal.status == ProposalStatus.PENDING
    assert proposal.attested_at is not None
    assert (proposal.decided_at, proposal.decided_by, proposal.position) == (
        None,
        None,
        None,
    )
    assert (proposal.authorship, proposal.ai_model, proposal.ai_maker) == (
        "ai_assisted",
        "Claude",
        "Anthropic",
    )
    assert (proposal.affiliation, proposal.paid, proposal.paid_by) == (
        "University of Nowhere",
        "expected",
        "A think tank",
    )
    assert proposal.conflict == "declared"
    assert proposal.conflict_details == "I advise both on export rules."
    assert {p.slug for p in proposal.conflict_parties.all()} == {
        "anthropic",
        "us-government",
    }

    mine = author.get(propose_url(topic))
    assert mine.status_code == 200
    assert [str(m) for m in mine.context["messages"]] == [THANKS]
    assertContains(mine, THANKS)
    listed = re.search(r'<section class="my-proposals".*?</section>', page(mine), re.S)
    assert listed, "the author's proposals are not listed"
    assert squash(listed[0]) == (
        f"Your proposals for this debate {CLAIM} — Waiting for a moderator"
    )

    theirs = signed_in(make_user()).get(propose_url(topic))
    assert theirs.status_code == 200
    assertNotContains(theirs, "Your proposals for this debate")
    assertNotContains(theirs, CLAIM)

    for reader in (CsrfClient(), author):
        thread = reader.get(topic.get_absolute_url())
        assert thread.status_code == 200
        assert CLAIM not in positions_panel(thread)
        assertNotContains(thread, CLAIM)
    assert not Position.objects.filter(claim=CLAIM).exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        pytest.param(
            {"ai_model": ""},
            "ai_model",
            "Name the AI model you used, e.g. “Claude”.",
            id="ai-without-model",
        ),
        pytest.param(
            {"ai_maker": "  "},
            "ai_maker",
            "Name the company or group that made the AI model, e.g. “Anthropic”.",
            id="ai-without-maker",
        ),
        pytest.param(
            {"authorship": "human", "ai_maker": ""},
            "ai_model",
            "Leave the AI model and maker empty for a human-written post, "
            "or choose how AI was involved.",
            id="human-naming-a-model",
        ),
        pytest.param(
            {"affiliation": " "},
            "affiliation",
            "Give your relevant employer or organisation, or write “none”.",
            id="no-affiliation",
        ),
        pytest.param(
            {"paid": "yes", "paid_by": ""},
            "paid_by",
            "Say who pays you, or will, to post on this.",
            id="paid-without-payer",
        ),
        pytest.param(
            {"paid": "no"},
            "paid_by",
            "Leave “paid by” empty when you are not paid, or change your answer above.",
            id="unpaid-with-payer",
        ),
        pytest.param(
            {"conflict_parties": []},
            "conflict_parties",
            "Choose the party or parties your conflict of interest involves.",
            id="conflict-without-parties",
        ),
        pytest.param(
            {"conflict_details": ""},
            "conflict_details",
            "Describe the conflict of interest in a sentence or two.",
            id="conflict-without-details",
        ),
        pytest.param(
            {"conflict": "none", "conflict_details": ""},
            "conflict",
            "Choose “declared” to name a conflict, or clear its parties and details.",
            id="no-conflict-naming-parties",
        ),
    ],
)
def test_proposal_disclosure_follows_the_reply_rules_and_keeps_the_text(
    author, topic, changes, field, message
):
    data = proposal_data(**changes)

    response = author.post(propose_url(topic), data)

    assert response.status_code == 200
    assert field_errors(response, field) == [message]
    # The very function replies use decides, with the same words.
    parties = Party.objects.filter(topic=topic, slug__in=data["conflict_parties"])
    answers = {name: data[name] for name in DISCLOSURE_TEXT_FIELDS}
    answers = services.DisclosureAnswers(**answers, conflict_parties=parties)
    with pytest.raises(ValidationError) as refused:
        services.validate_disclosure(topic=topic, disclosure=answers)
    assert refused.value.message_dict[field] == [message]
    assert "everything you typed is still here" in summary_errors(response)
    assert typed_back(response) == as_typed(data)
    assert not PositionProposal.objects.exists()


def test_proposal_without_attestation_is_refused_and_text_kept(author, topic):
    data = proposal_data(attest=None)

    response = author.post(propose_url(topic), data)

    assert response.status_code == 200
    assert field_errors(response, "attest") == [
        "Confirm that your disclosure is complete and accurate."
    ]
    assert typed_back(response) == as_typed(data)
    assert not PositionProposal.objects.exists()


def test_proposal_without_a_claim_is_refused(author, topic):
    data = proposal_data(claim="   ")

    response = author.post(propose_url(topic), data)

    assert response.status_code == 200
    assert field_errors(response, "claim") == [
        "State the claim people would take sides on."
    ]
    assert not PositionProposal.objects.exists()


def test_quote_not_in_the_article_is_refused_and_text_kept(author, topic):
    data = proposal_data(quote="The article says defenders are exempt.")

    response = author.post(propose_url(topic), data)

    assert response.status_code == 200
    assert field_errors(response, "quote") == [
        "Quote the article word for word, or leave the quote empty."
    ]
    assert typed_back(response) == as_typed(data)
    assert not PositionProposal.objects.exists()


@pytest.mark.parametrize(
    "quote",
    [
        "Its second paragraph.",
        # Spacing and line breaks may differ from the article's: the words may not.
        "The article.\r\n\r\nIts second   paragraph.",
        "  The article. Its second paragraph.  ",
    ],
)
def test_quote_from_the_article_is_accepted(author, topic, quote):
    response = author.post(propose_url(topic), proposal_data(quote=quote))

    assertRedirects(response, propose_url(topic), fetch_redirect_response=False)
    assert PositionProposal.objects.get().quote == quote.strip()


@pytest.mark.parametrize(
    "claim",
    ["The ban is justified", "  the BAN is\tjustified ", "THE BAN ENDANGERS DEFENDERS"],
)
def test_claim_of_an_existing_position_is_refused(author, topic, claim):
    data = proposal_data(claim=claim)

    response = author.post(propose_url(topic), data)

    assert response.status_code == 200
    assert field_errors(response, "claim") == [
        "This topic already has, or is considering, that position."
    ]
    assert typed_back(response) == as_typed(data)
    assert not PositionProposal.objects.exists()


def test_claim_of_a_pending_proposal_is_refused(author, topic):
    earlier = propose(topic, make_user())
    data = proposal_data(claim="  defenders SHOULD be   exempt")

    response = author.post(propose_url(topic), data)

    assert response.status_code == 200
    assert field_errors(response, "claim") == [
        "This topic already has, or is considering, that position."
    ]
    assert list(PositionProposal.objects.all()) == [earlier]


def test_claim_of_another_topics_position_is_accepted(author, topic, other_topic):
    response = author.post(propose_url(topic), proposal_data(claim="Export rules work"))

    assertRedirects(response, propose_url(topic), fetch_redirect_response=False)
    assert PositionProposal.objects.get().topic == topic


def test_locked_topic_refuses_proposals_and_keeps_the_text(author, topic):
    Topic.objects.filter(pk=topic.pk).update(is_locked=True)
    data = proposal_data()

    shown = author.get(propose_url(topic))
    response = author.post(propose_url(topic), data)

    assert shown.status_code == 403
    assertContains(
        shown, "This topic is locked: it takes no new positions.", status_code=403
    )
    assertNotContains(shown, 'class="reply-form"', status_code=403)
    assert response.status_code == 403
    assertContains(
        response,
        "This topic is locked: it takes no new positions. Your text is below so you "
        "can keep a copy.",
        status_code=403,
    )
    assert typed_back(response) == as_typed(data)
    assert not PositionProposal.objects.exists()


# The approval queue -----------------------------------------------------------


def test_approval_queue_lists_pending_proposals_first(staff, topic):
    ada, grace = make_user(username="ada"), make_user(username="grace")
    old_pending = propose(topic, ada, "Old and pending")
    decided = propose(topic, grace, "Newest but decided")
    new_pending = propose(topic, grace, "New and pending")
    now = timezone.now()
    for proposal, age in ((old_pending, 3), (new_pending, 2), (decided, 1)):
        PositionProposal.objects.filter(pk=proposal.pk).update(
            created=now - timedelta(hours=age)
        )
    services.proposals_decide(
        proposals=PositionProposal.objects.filter(pk=decided.pk),
        approve=False,
        actor=staff.person,
        reason="Too vague.",
    )

    response = staff.get(PROPOSALS_ADMIN)

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [
        new_pending,
        old_pending,
        decided,
    ]
    assertContains(response, "Waiting for a moderator")


def test_approving_a_proposal_makes_a_position_replies_can_take(staff, user, topic):
    proposal = propose(topic, user)
    reader = CsrfClient()
    assert CLAIM not in positions_panel(reader.get(topic.get_absolute_url()))
    reason = "The debate lacked this claim."

    response = run_action(
        staff, PROPOSALS_ADMIN, "approve_proposals", [proposal], reason
    )

    assertRedirects(response, PROPOSALS_ADMIN, fetch_redirect_response=False)
    assertContains(staff.get(PROPOSALS_ADMIN), "1 proposal(s) approved.")
    position = Position.objects.get(topic=topic, claim=CLAIM)
    assert position.slug == CLAIM_SLUG
    assert position.proposed_by == user
    assert set(
        Stance.objects.filter(position=position).values_list("slug", "polarity")
    ) == {(f"supports-{CLAIM_SLUG}", "supports"), (f"opposes-{CLAIM_SLUG}", "opposes")}
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.APPROVED
    assert proposal.decided_by == staff.person
    assert proposal.decided_at is not None
    assert proposal.decision_reason == reason
    assert proposal.position == position
    action = ModerationAction.objects.get()
    assert (action.action, action.actor, action.reason) == (
        "approve_position",
        staff.person,
        reason,
    )
    assert (action.proposal, action.topic) == (proposal, topic)

    panel = positions_panel(reader.get(topic.get_absolute_url()))
    assert f"{CLAIM} 0 oppose 0 support Proposed by {user.username}" in panel

    mine = signed_in(user)
    assert f"{CLAIM} — Approved: {reason}" in shown_text(mine.get(propose_url(topic)))
    replied = mine.post(reply_url(topic), reply_data(stances=[f"opposes-{CLAIM_SLUG}"]))
    assert replied.status_code == 302
    post = Post.objects.get()
    assert [s.slug for s in post.stances.all()] == [f"opposes-{CLAIM_SLUG}"]
    position.refresh_from_db()
    assert (position.support_count, position.oppose_count) == (0, 1)


def test_rejecting_a_proposal_tells_its_author_why(staff, user, topic):
    proposal = propose(topic, user)
    reason = "The ban-endangers-defenders position already covers this."

    response = run_action(
        staff, PROPOSALS_ADMIN, "reject_proposals", [proposal], reason
    )

    assertRedirects(response, PROPOSALS_ADMIN, fetch_redirect_response=False)
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.REJECTED
    assert proposal.decided_by == staff.person
    assert proposal.decided_at is not None
    assert proposal.decision_reason == reason
    assert proposal.position is None
    assert not Position.objects.filter(claim=CLAIM).exists()
    action = ModerationAction.objects.get()
    assert (action.action, action.actor, action.reason, action.proposal) == (
        "reject_position",
        staff.person,
        reason,
        proposal,
    )
    mine = signed_in(user).get(propose_url(topic))
    assert f"{CLAIM} — Rejected: {reason}" in shown_text(mine)
    assert CLAIM not in positions_panel(CsrfClient().get(topic.get_absolute_url()))


@pytest.mark.parametrize("action", ["approve_proposals", "reject_proposals"])
@pytest.mark.parametrize("reason", ["", "   "])
def test_deciding_a_proposal_needs_a_reason(staff, user, topic, action, reason):
    proposal = propose(topic, user)

    response = run_action(staff, PROPOSALS_ADMIN, action, [proposal], reason)

    assert response.status_code == 200
    assertContains(response, NO_REASON)
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.PENDING
    assert (proposal.decided_at, proposal.decided_by) == (None, None)
    assert not Position.objects.filter(claim=CLAIM).exists()
    assert not ModerationAction.objects.exists()


@pytest.mark.parametrize(
    ("first", "then", "label"),
    [
        (False, "approve_proposals", "approved"),
        (True, "reject_proposals", "rejected"),
        (True, "approve_proposals", "approved"),
    ],
)
def test_deciding_a_decided_proposal_changes_nothing(
    staff, user, topic, first, then, label
):
    proposal = propose(topic, user)
    services.proposals_decide(
        proposals=PositionProposal.objects.filter(pk=proposal.pk),
        approve=first,
        actor=staff.person,
        reason="First decision.",
    )
    proposal.refresh_from_db()
    before = (
        proposal.status,
        proposal.decided_at,
        proposal.decision_reason,
        proposal.position_id,
    )
    positions = set(Position.objects.values_list("pk", "claim"))

    response = run_action(staff, PROPOSALS_ADMIN, then, [proposal], "Second thoughts.")

    assertRedirects(response, PROPOSALS_ADMIN, fetch_redirect_response=False)
    assertContains(staff.get(PROPOSALS_ADMIN), f"0 proposal(s) {label}.")
    proposal.refresh_from_db()
    assert (
        proposal.status,
        proposal.decided_at,
        proposal.decision_reason,
        proposal.position_id,
    ) == before
    assert set(Position.objects.values_list("pk", "claim")) == positions
    assert ModerationAction.objects.count() == 1


def test_proposal_change_page_is_read_only(staff, user, topic):
    proposal = propose(topic, user)
    url = f"{PROPOSALS_ADMIN}{proposal.pk}/change/"

    shown = staff.get(url)
    response = staff.post(url, {"claim": "A claim the moderator made up"})

    assert shown.status_code == 200
    assertContains(shown, CLAIM)
    assertNotContains(shown, 'name="claim"')
    assert response.status_code == 403
    proposal.refresh_from_db()
    assert (proposal.claim, proposal.status) == (CLAIM, ProposalStatus.PENDING)


def test_readers_cannot_reach_the_approval_queue(user, topic):
    proposal = propose(topic, user)
    client = signed_in(user)
    client.get(propose_url(topic))  # a page of the site that hands out the token

    response = client.post(
        PROPOSALS_ADMIN,
        {
            "action": "approve_proposals",
            "_selected_action": [proposal.pk],
            "reason": "Approving my own.",
        },
    )

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.PENDING
    assert not Position.objects.filter(claim=CLAIM).exists()


# Suspending in the admin -----------------------------------------------------


def suspension_form(person, **changes):
    data = {
        "username": person.username,
        "until_0": UNTIL.strftime("%Y-%m-%d"),
        "until_1": UNTIL.strftime("%H:%M:%S"),
        "reason": SUSPENSION_REASON,
    }
    data.update(changes)
    return data


def test_moderator_suspends_a_user_in_the_admin(staff, user):
    response = staff.post(f"{SUSPENSIONS_ADMIN}add/", suspension_form(user))

    assertRedirects(response, SUSPENSIONS_ADMIN, fetch_redirect_response=False)
    suspension = Suspension.objects.get()
    assert (suspension.user, suspension.until, suspension.reason) == (
        user,
        UNTIL,
        SUSPENSION_REASON,
    )
    assert suspension.created_by == staff.person
    assert suspension.lifted_at is None
    assert suspension.is_active
    action = ModerationAction.objects.get()
    assert (action.action, action.actor, action.reason, action.suspension) == (
        "suspend",
        staff.person,
        SUSPENSION_REASON,
        suspension,
    )


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        pytest.param(
            {"username": "nobody"},
            "username",
            "There is no user called “nobody”.",
            id="unknown-user",
        ),
        pytest.param(
            {"until_0": "2001-01-01"},
            "until",
            "Choose an end in the future.",
            id="past-end",
        ),
        pytest.param(
            {"reason": "  "}, "reason", "This field is required.", id="blank-reason"
        ),
    ],
)
def test_suspension_form_refuses_bad_input(staff, user, changes, field, message):
    response = staff.post(f"{SUSPENSIONS_ADMIN}add/", suspension_form(user, **changes))

    assert response.status_code == 200
    assert admin_errors(response) == {field: [message]}
    assertContains(response, message)
    assert not Suspension.objects.exists()
    assert not ModerationAction.objects.exists()


def test_staff_cannot_be_suspended(staff):
    colleague = make_user(username="colleague", is_staff=True)

    response = staff.post(f"{SUSPENSIONS_ADMIN}add/", suspension_form(colleague))

    assert response.status_code == 200
    message = (
        "Staff cannot be suspended; an administrator must remove their staff status "
        "first."
    )
    assert admin_errors(response) == {"username": [message]}
    assertContains(response, message)
    assert not Suspension.objects.exists()
    assert not ModerationAction.objects.exists()


# What a suspension does -------------------------------------------------------


@pytest.fixture
def suspended(user, moderator):
    """`user`, signed in and suspended until UNTIL."""
    suspend(user, actor=moderator)
    return signed_in(user)


def test_suspended_user_still_reads_and_signs_in(suspended, user, topic):
    make_post(topic=topic, body="A reply everyone may read.")

    thread = suspended.get(topic.get_absolute_url())
    assert thread.status_code == 200
    assertContains(thread, "A reply everyone may read.")

    fresh = CsrfClient()
    response = fresh.post(
        "/accounts/login/", {"username": user.username, "password": PASSWORD}
    )
    assertRedirects(response, "/", fetch_redirect_response=False)
    assert fresh.session["_auth_user_id"] == str(user.pk)
    assert fresh.get(topic.get_absolute_url()).status_code == 200


def test_suspended_user_sees_why_and_until_when_on_the_reply_page(suspended, topic):
    response = suspended.get(reply_url(topic))

    assert response.status_code == 403
    assert SUSPENDED in shown_text(response)
    assertNotContains(response, "Nothing was stored", status_code=403)
    assertNotContains(response, 'class="reply-form"', status_code=403)


def test_suspended_users_reply_is_refused_stored_nowhere_and_kept(suspended, topic):
    data = reply_data()

    response = suspended.post(reply_url(topic), data)

    assert response.status_code == 403
    assert (
        f"{SUSPENDED} Nothing was stored; your text is below so you can keep a copy."
        in shown_text(response)
    )
    assert typed_back(response) == as_typed(data)
    assert not Post.objects.exists()
    topic.refresh_from_db()
    assert topic.reply_count == 0


def test_suspended_user_cannot_report(suspended, topic):
    post = make_post(topic=topic)
    url = f"/p/{post.pk}/report/"

    shown = suspended.get(url)
    response = suspended.post(url, {"reason": "spam", "note": ""})

    assert shown.status_code == 403
    assert SUSPENDED in shown_text(shown)
    assert response.status_code == 403
    assert SUSPENDED in shown_text(response)
    assert not Report.objects.exists()


def test_suspended_user_cannot_propose_and_keeps_the_text(suspended, topic):
    data = proposal_data()

    shown = suspended.get(propose_url(topic))
    response = suspended.post(propose_url(topic), data)

    assert shown.status_code == 403
    assert SUSPENDED in shown_text(shown)
    assertNotContains(shown, 'class="reply-form"', status_code=403)
    assert response.status_code == 403
    assert SUSPENDED in shown_text(response)
    assert typed_back(response) == as_typed(data)
    assert not PositionProposal.objects.exists()


def test_a_suspension_of_someone_else_does_not_block_me(author, moderator, topic):
    suspend(make_user(), actor=moderator)

    response = author.post(reply_url(topic), reply_data())

    assert response.status_code == 302
    assert Post.objects.count() == 1


# Lifting and expiry -----------------------------------------------------------


def test_lifting_a_suspension_lets_the_user_post_at_once(staff, user, moderator, topic):
    suspension = suspend(user, actor=moderator)
    client = signed_in(user)
    assert client.post(reply_url(topic), reply_data()).status_code == 403
    reason = "Suspended by mistake."

    response = run_action(
        staff, SUSPENSIONS_ADMIN, "lift_suspensions", [suspension], reason
    )

    assertRedirects(response, SUSPENSIONS_ADMIN, fetch_redirect_response=False)
    assertContains(staff.get(SUSPENSIONS_ADMIN), "1 suspension(s) lifted.")
    suspension.refresh_from_db()
    assert suspension.lifted_at is not None
    assert suspension.lifted_by == staff.person
    assert not suspension.is_active
    lift = ModerationAction.objects.get(action="lift_suspension")
    assert (lift.actor, lift.reason, lift.suspension) == (
        staff.person,
        reason,
        suspension,
    )

    assert client.get(reply_url(topic)).status_code == 200
    response = client.post(reply_url(topic), reply_data())
    assert response.status_code == 302
    assert Post.objects.get().author == user


def test_lifting_needs_a_reason(staff, user, moderator):
    suspension = suspend(user, actor=moderator)

    response = run_action(
        staff, SUSPENSIONS_ADMIN, "lift_suspensions", [suspension], ""
    )

    assert response.status_code == 200
    assertContains(response, NO_REASON)
    suspension.refresh_from_db()
    assert suspension.lifted_at is None
    assert not ModerationAction.objects.filter(action="lift_suspension").exists()


def test_expired_suspension_no_longer_blocks(user, moderator, topic):
    suspension = suspend(user, actor=moderator)
    now = timezone.now()
    Suspension.objects.filter(pk=suspension.pk).update(
        created=now - timedelta(days=3), until=now - timedelta(minutes=1)
    )
    client = signed_in(user)

    shown = client.get(reply_url(topic))
    response = client.post(reply_url(topic), reply_data())

    assert shown.status_code == 200
    assertNotContains(shown, "Your account is suspended")
    assert response.status_code == 302
    assert Post.objects.get().author == user
    proposed = client.post(propose_url(topic), proposal_data())
    assert proposed.status_code == 302
    assert PositionProposal.objects.get().author == user


# Suspended while the form is open ---------------------------------------------


def test_suspended_after_loading_the_form_the_reply_is_refused(staff, user, topic):
    client = signed_in(user)
    form = client.get(reply_url(topic))
    assert form.status_code == 200
    assertContains(form, 'class="reply-form"')
    suspending = staff.post(f"{SUSPENSIONS_ADMIN}add/", suspension_form(user))
    assert suspending.status_code == 302
    assert Suspension.objects.filter(user=user).exists()
    data = reply_data()

    response = client.post(reply_url(topic), data)

    assert response.status_code == 403
    assert SUSPENDED in shown_text(response)
    assert typed_back(response) == as_typed(data)
    assert not Post.objects.exists()


def suspend_midway(monkeypatch, name, person, actor):
    """Have a moderator suspend `person` after the view's own check, just before
    `services.<name>` starts its transaction: the service must catch it."""
    service = getattr(services, name)

    def late(**kwargs):
        suspend(person, actor=actor)
        return service(**kwargs)

    monkeypatch.setattr(services, name, late)


def test_service_refuses_a_reply_from_someone_suspended_mid_request(
    monkeypatch, author, user, moderator, topic
):
    suspend_midway(monkeypatch, "post_create", user, moderator)
    data = reply_data()

    response = author.post(reply_url(topic), data)

    assert Suspension.objects.filter(user=user).exists()
    assert not Post.objects.exists()
    assert SUSPENDED in summary_errors(response)
    assert typed_back(response) == as_typed(data)
    assert response.status_code == 403


def test_service_refuses_a_proposal_from_someone_suspended_mid_request(
    monkeypatch, author, user, moderator, topic
):
    suspend_midway(monkeypatch, "position_propose", user, moderator)
    data = proposal_data()

    response = author.post(propose_url(topic), data)

    assert Suspension.objects.filter(user=user).exists()
    assert not PositionProposal.objects.exists()
    assert SUSPENDED in summary_errors(response)
    assert typed_back(response) == as_typed(data)
    assert response.status_code == 403


def test_service_refuses_a_report_from_someone_suspended_mid_request(
    monkeypatch, author, user, moderator, topic
):
    post = make_post(topic=topic)
    suspend_midway(monkeypatch, "report_create", user, moderator)

    response = author.post(f"/p/{post.pk}/report/", {"reason": "spam", "note": ""})

    assert Suspension.objects.filter(user=user).exists()
    assert not Report.objects.exists()
    assert SUSPENDED in summary_errors(response)
    assert response.status_code == 403


# The public log ------------------------------------------------------------------


def test_moderation_log_shows_the_suspension_and_its_lift(staff, user):
    suspended_at = staff.post(f"{SUSPENSIONS_ADMIN}add/", suspension_form(user))
    assert suspended_at.status_code == 302
    suspension = Suspension.objects.get()
    lifted = run_action(
        staff, SUSPENSIONS_ADMIN, "lift_suspensions", [suspension], "Apologised."
    )
    assert lifted.status_code == 302

    response = CsrfClient().get("/moderation/")

    assert response.status_code == 200
    entries = log_entries(response)
    assert len(entries) == 2
    lift, suspend_entry = entries
    assert f"A moderator lifted a suspension: {user.username} Reason: Apologised." in (
        lift
    )
    assert (
        f"A moderator suspended a user: {user.username}, until 15 Mar 2099, 18:30 UTC "
        f"Reason: {SUSPENSION_REASON}" in suspend_entry
    )
    # The actor stays anonymous unless the settings say otherwise.
    assert re.findall(r'<span class="who">(.*?)</span>', page(response)) == [
        "A moderator",
        "A moderator",
    ]


def test_moderation_log_shows_proposal_decisions(staff, user, topic):
    approved = propose(topic, user)
    rejected = propose(topic, user, "Export rules never work")
    run_action(staff, PROPOSALS_ADMIN, "approve_proposals", [approved], "Adds a side.")
    run_action(staff, PROPOSALS_ADMIN, "reject_proposals", [rejected], "Off topic.")

    response = CsrfClient().get(f"/moderation/?topic={topic.slug}")

    assert response.status_code == 200
    entries = log_entries(response)
    assert len(entries) == 2
    assert any(
        f"A moderator approved a proposed position: “{CLAIM}” in {topic.title} "
        "Reason: Adds a side." in entry
        for entry in entries
    )
    # A rejected claim stays unpublished: only its author and moderators saw it.
    assert any(
        "A moderator rejected a proposed position: a proposed position in "
        f"{topic.title} Reason: Off topic." in entry
        for entry in entries
    )
    assertNotContains(response, "Export rules never work")
