"""AI agents through the front door: their accounts and tokens, the write API
and every rule of the reply form over it, their limits, and the marking of
their replies wherever a reply appears."""

import hashlib
import json
import re
import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.utils import timezone

from forum import services
from forum.models import (
    Agent,
    AgentRequest,
    AgentStatus,
    AgentToken,
    Authorship,
    ModerationAction,
    Post,
    PostStatus,
    Topic,
)
from forum.services import agents

from .factories import disclosure, make_post, make_topic, make_user, stance
from .pages import field_errors, page, post_block, reply_data, reply_url, signed_in

ENDANGERS = "supports-ban-endangers-defenders"


@pytest.fixture(autouse=True)
def agent_limits(settings):
    """Agents' limits off unless a test sets them: most tests post often."""
    settings.STANDPOINT_RATE_LIMITS = {
        **settings.STANDPOINT_RATE_LIMITS,
        "agent_post": "off",
        "operator_post": "off",
    }


@pytest.fixture
def operator(db):
    return make_user(username="olivia")


def make_agent(operator, name="factbot", **fields):
    return agents.agent_create(
        operator=operator,
        name=name,
        ai_model=fields.get("ai_model", "Claude"),
        ai_maker=fields.get("ai_maker", "Anthropic"),
        statement=fields.get("statement", "Checks the facts replies cite."),
    )


def make_token(agent, scopes=("read", "post"), days=90) -> str:
    _, text = agents.token_create(
        agent=agent,
        operator=agent.operator,
        scopes=list(scopes),
        days=days,
        attested=True,
    )
    return text


@pytest.fixture
def agent(operator):
    return make_agent(operator)


@pytest.fixture
def token(agent):
    return make_token(agent)


def reply_json(**changes) -> dict:
    data = {
        "body": "The letter's signatories include two former NSA officials.",
        "stances": [ENDANGERS],
        "tags": ["sources"],
        "affiliation": "none",
        "paid": "no",
        "conflict": "none",
    }
    return {**data, **changes}


def post_api(topic_or_slug, token, data=None, *, key="key-1", client=None, **headers):
    slug = getattr(topic_or_slug, "slug", topic_or_slug)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if key is not None:
        headers["Idempotency-Key"] = key
    return (client or Client()).post(
        f"/api/v1/topics/{slug}/replies",
        json.dumps(reply_json() if data is None else data),
        content_type="application/json",
        headers=headers,
    )


# --- Agent accounts ------------------------------------------------------------


def test_a_person_makes_an_agent_that_cannot_sign_in(operator):
    client = signed_in(operator)
    response = client.post(
        "/accounts/agents/",
        {
            "name": "factbot",
            "ai_model": "Claude",
            "ai_maker": "Anthropic",
            "statement": "Checks the facts replies cite.",
        },
    )

    agent = Agent.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/agents/{agent.pk}/"
    assert agent.operator == operator and agent.status == AgentStatus.ACTIVE
    assert not agent.account.has_usable_password()
    assert not agent.account.is_active  # no session can ever be its
    assert not Client().login(username="factbot", password="")
    # Even given a password and made active in the admin, it never signs in.
    agent.account.set_password("a-long-password-1")
    agent.account.is_active = True
    agent.account.save()
    assert not Client().login(username="factbot", password="a-long-password-1")
    listing = client.get("/accounts/agents/")
    assert "factbot" in page(listing) and "Claude" in page(listing)


def test_a_refused_agent_form_comes_back_as_typed(operator):
    make_user(username="taken")
    typed = {"name": "taken", "ai_model": "GPT-4o", "ai_maker": "", "statement": "x"}

    response = signed_in(operator).post("/accounts/agents/", typed)

    assert response.status_code == 200
    assert field_errors(response, "name")
    assert field_errors(response, "ai_maker")
    assert 'value="GPT-4o"' in page(response)
    assert not Agent.objects.exists()


def test_a_person_runs_at_most_the_set_number_of_agents(settings, operator):
    settings.STANDPOINT_AGENTS_PER_OPERATOR = 1
    first = make_agent(operator, "bot-one")

    with pytest.raises(ValidationError, match="You run 1 agents already"):
        make_agent(operator, "bot-two")
    client = signed_in(operator)
    client.get(f"/accounts/agents/{first.pk}/")  # the page with the Retire button
    unconfirmed = client.post(f"/accounts/agents/{first.pk}/retire/")
    assert Agent.objects.get(pk=first.pk).status == AgentStatus.ACTIVE
    assert unconfirmed.status_code == 302  # back to its page, saying why
    client.post(f"/accounts/agents/{first.pk}/retire/", {"confirm": "yes"})

    assert make_agent(operator, "bot-two").status == AgentStatus.ACTIVE
    # A retired agent's page still reads; it takes no token.
    assert client.get(f"/accounts/agents/{first.pk}/").status_code == 200
    assert Agent.objects.get(pk=first.pk).status == AgentStatus.RETIRED


def test_an_agent_cannot_run_agents_and_a_suspended_person_cannot_make_one(
    operator, moderator, agent
):
    with pytest.raises(ValidationError, match="cannot run agents"):
        make_agent(agent.account, "sub-bot")
    services.user_suspend(
        user=operator,
        until=timezone.now() + timedelta(days=1),
        reason="Spam.",
        actor=moderator,
    )
    with pytest.raises(ValidationError):
        make_agent(operator, "other-bot")


# --- Tokens ----------------------------------------------------------------------


def test_a_token_is_shown_once_and_only_its_digest_is_stored(operator, agent):
    client = signed_in(operator)

    made = client.post(
        f"/accounts/agents/{agent.pk}/",
        {"label": "runner", "scopes": ["post"], "days": "30", "attest": "on"},
    )

    text = re.search(
        r'<code class="token" id="new-token">(sp_[^<]+)</code>', page(made)
    )[1]
    token = AgentToken.objects.get()
    assert "no-store" in made["Cache-Control"]
    assert token.digest == hashlib.sha256(text.encode()).hexdigest()
    assert token.scopes == ["post"] and token.attested_by == operator
    assert token.attestation == "I am responsible for what this agent posts."
    assert timedelta(days=29) < token.expires - timezone.now() <= timedelta(days=30)
    with connection.cursor() as cursor:  # the database never holds the token
        cursor.execute("SELECT * FROM forum_agenttoken")
        assert text not in json.dumps(cursor.fetchall(), default=str)
    again = client.get(f"/accounts/agents/{agent.pk}/")
    assert text not in page(again) and f"sp_{token.prefix}_…" in page(again)


def test_a_token_needs_its_operators_attestation(operator, agent):
    response = signed_in(operator).post(
        f"/accounts/agents/{agent.pk}/",
        {"label": "runner", "scopes": ["post"], "days": "30"},
    )

    assert response.status_code == 200
    assert field_errors(response, "attest")
    assert not AgentToken.objects.exists()


def test_only_the_operator_sees_and_manages_an_agent(agent, token):
    stranger = signed_in(make_user())
    token_row = AgentToken.objects.get()

    assert stranger.get(f"/accounts/agents/{agent.pk}/").status_code == 404
    revoke = f"/accounts/agents/{agent.pk}/tokens/{token_row.pk}/revoke/"
    assert stranger.post(revoke).status_code == 404
    assert stranger.post(f"/accounts/agents/{agent.pk}/retire/").status_code == 404
    assert Client().get("/accounts/agents/").status_code == 302  # sign in first
    assert AgentToken.objects.get().revoked is None


# --- The write API ------------------------------------------------------------------


def test_an_agent_posts_a_reply_with_the_disclosure_its_account_fixes(
    topic, agent, token
):
    response = post_api(
        topic,
        token,
        reply_json(
            conflict_parties=["anthropic"],
            conflict="declared",
            conflict_details="Runs on Claude.",
        ),
    )

    assert response.status_code == 201, response.json()
    record = response.json()
    post = Post.objects.get()
    assert response["Location"] == f"/api/v1/posts/{post.pk}"
    assert record["id"] == post.pk and record["author"] == "factbot"
    assert record["agent_operator"] == "olivia"
    assert record["disclosure"]["authorship"] == "ai_agent"
    assert record["disclosure"]["ai_model"] == "Claude"
    assert record["disclosure"]["ai_maker"] == "Anthropic"
    # The maker is a party of this debate: derived as for people.
    assert record["disclosure"]["ai_maker_is_party"] is True
    assert record["disclosure"]["conflict_parties"] == ["Anthropic"]
    assert post.author == agent.account and post.attested_at is not None
    # The reply stands on the attestation of the token it came with.
    assert AgentRequest.objects.get().token == AgentToken.objects.get()
    assert [s["stance"] for s in record["stances"]] == [ENDANGERS]
    assert record["tags"] == ["sources"]


def test_the_same_idempotency_key_gives_back_the_first_reply(topic, token):
    first = post_api(topic, token, key="retry-me")
    again = post_api(topic, token, key="retry-me")
    other = post_api(topic, token, reply_json(body="Something else."), key="retry-me")

    assert first.status_code == 201
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert other.status_code == 422
    assert "another request" in other.json()["detail"]
    # The same text under a new key is a duplicate, as from a person: 409.
    twin = post_api(topic, token, key="new-key")
    assert twin.status_code == 409
    assert twin["Location"] == f"/api/v1/posts/{first.json()['id']}"
    assert Post.objects.count() == 1


def test_an_idempotency_key_is_remembered_for_a_day_only(settings, topic, token):
    first = post_api(topic, token, key="daily")
    AgentRequest.objects.update(created=timezone.now() - timedelta(days=1, seconds=1))

    later = post_api(topic, token, reply_json(body="A new day."), key="daily")

    assert later.status_code == 201
    assert later.json()["id"] != first.json()["id"]


@pytest.mark.parametrize(
    ("header", "key", "status", "words"),
    [
        (None, "k", 401, "Authorization: Bearer"),
        ("Bearer sp_nothing_here", "k", 401, "not valid"),
        ("Basic abc", "k", 401, "Authorization: Bearer"),
        ("good", None, 400, "Idempotency-Key"),
        ("good", "x" * 256, 400, "Idempotency-Key"),
    ],
)
def test_requests_without_a_valid_token_or_key_are_refused(
    topic, token, header, key, status, words
):
    headers = (
        {}
        if header is None
        else {"Authorization": f"Bearer {token}" if header == "good" else header}
    )

    response = post_api(topic, None, key=key, **headers)

    assert response.status_code == status
    assert words in response.json()["detail"]
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Post.objects.exists()


def test_a_token_without_the_post_scope_may_not_post(topic, agent):
    reader = make_token(agent, scopes=["read"])
    poster = make_token(agent, scopes=["post"])

    response = post_api(topic, reader)
    whoami = Client().get(
        "/api/v1/agent", headers={"Authorization": f"Bearer {reader}"}
    )
    not_read = Client().get(
        "/api/v1/agent", headers={"Authorization": f"Bearer {poster}"}
    )

    assert response.status_code == 403
    assert "may not post" in response.json()["detail"]
    assert whoami.status_code == 200
    assert whoami.json()["operator"] == "olivia"
    assert whoami.json()["token"]["scopes"] == ["read"]
    assert "no-store" in whoami["Cache-Control"]
    assert not_read.status_code == 403


@pytest.mark.parametrize(
    "end",
    [
        "revoked",
        "expired",
        "suspended",
        "retired",
        "operator suspended",
        "account suspended",
        "account made active",
    ],
)
def test_a_token_stops_when_it_or_its_agent_or_operator_ends(
    topic, agent, token, moderator, end
):
    assert post_api(topic, token, key="before").status_code == 201
    row = AgentToken.objects.get()
    if end == "revoked":
        client = signed_in(agent.operator)
        client.get(f"/accounts/agents/{agent.pk}/")  # the page with the button
        client.post(f"/accounts/agents/{agent.pk}/tokens/{row.pk}/revoke/")
    elif end == "expired":
        AgentToken.objects.update(expires=timezone.now() - timedelta(seconds=1))
    elif end == "account made active":
        agent.account.is_active = True
        agent.account.save()
    elif end in ("suspended", "retired"):
        status = AgentStatus.SUSPENDED if end == "suspended" else AgentStatus.RETIRED
        services.agents_set_status(
            agents=Agent.objects.all(), status=status, actor=moderator, reason="Spam."
        )
    else:
        user = agent.operator if end == "operator suspended" else agent.account
        services.user_suspend(
            user=user,
            until=timezone.now() + timedelta(days=1),
            reason="Spam.",
            actor=moderator,
        )

    response = post_api(topic, token, reply_json(body="After."), key="after")

    assert response.status_code == 401
    assert response.json()["detail"]
    assert Post.objects.count() == 1


@pytest.mark.parametrize(
    "claim",
    [
        {"authorship": "human"},
        {"authorship": "ai_generated"},
        {"ai_model": "GPT-4o"},
        {"ai_maker": "OpenAI"},
        {"authorship": "ai_agent", "ai_model": "Claude", "ai_maker": "Someone"},
    ],
)
def test_every_other_disclosure_claim_is_refused(topic, token, claim):
    response = post_api(topic, token, reply_json(**claim))

    assert response.status_code == 422
    assert "ai_agent" in response.json()["detail"]
    assert not Post.objects.exists()


def test_claiming_exactly_what_the_account_says_is_accepted(topic, token):
    claim = {"authorship": "ai_agent", "ai_model": "Claude", "ai_maker": "Anthropic"}

    assert post_api(topic, token, reply_json(**claim)).status_code == 201


def test_every_rule_of_the_reply_form_holds_over_the_api(
    topic, other_topic, token, moderator
):
    hidden = make_post(topic=topic)
    services.posts_set_status(
        posts=Post.objects.filter(pk=hidden.pk),
        status=PostStatus.HIDDEN,
        actor=moderator,
        reason="Off topic.",
    )
    elsewhere = other_topic.positions.first().stances.first().slug
    cases = {
        "no stance": (reply_json(stances=[]), "stances"),
        "another topic's stance": (reply_json(stances=["no-such-stance"]), "stances"),
        "hidden parent": (reply_json(parent=hidden.pk), "parent"),
        "missing parent": (reply_json(parent=10**9), "parent"),
        "long body": (reply_json(body="x" * 20_001), "body"),
        "blank body": (reply_json(body="   "), "body"),
        "no passage": (reply_json(passage=99), "passage"),
        "bad paid": (reply_json(paid="maybe"), "paid"),
        "paid by nobody": (reply_json(paid="yes"), "paid_by"),
        "undescribed conflict": (reply_json(conflict="declared"), "conflict_details"),
        "unknown party": (reply_json(conflict_parties=["nobody"]), "conflict_parties"),
        "no affiliation": (reply_json(affiliation=""), "affiliation"),
    }
    assert elsewhere
    for number, (name, (data, field)) in enumerate(cases.items()):
        response = post_api(topic, token, data, key=f"case-{number}")
        assert response.status_code == 422, name
        assert field in {e["field"] for e in response.json()["errors"]}, name
    assert Post.objects.filter(author__agent__isnull=False).count() == 0
    assert post_api("no-such-topic", token).status_code == 404
    bad_type = post_api(topic, token, reply_json(stances="not-a-list"), key="t")
    assert bad_type.status_code == 400
    assert [e["field"] for e in bad_type.json()["errors"]] == ["stances"]
    not_json = Client().post(
        f"/api/v1/topics/{topic.slug}/replies",
        "{not json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "nj"},
    )
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["detail"]
    # Without a valid token, what the body holds is never read: 401.
    assert post_api(topic, "sp_bad_token", {"body": 1}).status_code == 401


def test_a_locked_topic_refuses_an_agents_reply(topic, token, moderator):
    services.topics_set_flag(
        topics=Topic.objects.filter(pk=topic.pk),
        flag="is_locked",
        value=True,
        actor=moderator,
        reason="Closed.",
    )

    response = post_api(topic, token)

    assert response.status_code == 409
    assert "locked" in response.json()["detail"]


def test_agents_have_limits_of_their_own_and_their_operators(
    settings, topic, operator, agent, token
):
    settings.STANDPOINT_RATE_LIMITS = {
        **settings.STANDPOINT_RATE_LIMITS,
        "agent_post": "1/5m, 20/d",
        "operator_post": "2/5m",
    }
    second_agent = make_agent(operator, "bot-two")
    third_agent = make_agent(operator, "bot-three")

    assert post_api(topic, token, key="a").status_code == 201
    too_soon = post_api(topic, token, reply_json(body="Again."), key="b")
    assert (
        post_api(
            topic, make_token(second_agent), reply_json(body="Two."), key="c"
        ).status_code
        == 201
    )
    operator_full = post_api(
        topic, make_token(third_agent), reply_json(body="Three."), key="d"
    )

    for refused in (too_soon, operator_full):
        assert refused.status_code == 429
        assert 0 < int(refused["Retry-After"]) <= 300
        assert "try again" in refused.json()["detail"]
    assert Post.objects.count() == 2


def test_a_person_cannot_post_as_an_agent(topic, user):
    response = signed_in(user).post(
        reply_url(topic),
        reply_data(authorship="ai_agent", ai_model="Claude", ai_maker="Anthropic"),
    )

    assert response.status_code == 200
    assert field_errors(response, "authorship")
    with pytest.raises(ValidationError, match="Only an agent"):
        make_post(
            topic=topic,
            author=user,
            disclosure=disclosure(
                authorship=Authorship.AI_AGENT, ai_model="Claude", ai_maker="Anthropic"
            ),
        )
    assert not Post.objects.exists()


# --- Agents marked wherever a reply appears ----------------------------------------


@pytest.fixture
def agent_reply(topic, token):
    response = post_api(topic, token)
    assert response.status_code == 201
    return Post.objects.get(pk=response.json()["id"])


def test_agent_replies_are_marked_on_every_page(client, topic, agent_reply):
    thread = client.get(f"/t/{topic.slug}/")
    block = post_block(thread, agent_reply)
    assert "AI agent" in block and "run by" in block and "olivia" in block
    assert "Posted by an AI agent with" in block
    ld = json.loads(
        re.search(
            r'<script type="application/ld\+json">(.*?)</script>', page(thread), re.S
        )[1]
    )
    (comment,) = ld["comment"]
    assert comment["author"]["@type"] == "SoftwareApplication"
    assert comment["author"]["provider"]["name"] == "olivia"
    assert comment["digitalSourceType"].endswith("TrainedAlgorithmicMediaDigitalSource")

    history = client.get(f"/p/{agent_reply.pk}/history/")
    assert "run by" in page(history) and "olivia" in page(history)
    profile = client.get("/u/factbot/")
    assert "Runs on" in page(profile) and "olivia" in page(profile)
    assert "factbot" in page(client.get("/u/olivia/"))
    feed = client.get("/feeds/latest.atom")
    assert "agent factbot, run by olivia" in feed.content.decode()
    api = client.get(f"/api/v1/posts/{agent_reply.pk}").json()
    assert api["agent_operator"] == "olivia"
    disclosure_json = client.get(f"/p/{agent_reply.pk}/disclosure.json").json()
    assert disclosure_json["agent_operator"] == "olivia"
    search = client.get("/search/", {"q": "signatories"})
    assert "run by" in page(search)


def test_readers_can_hide_agents_or_read_only_theirs(client, topic, agent_reply):
    person = make_post(topic=topic, stances=[stance(topic, ENDANGERS)])
    url = f"/t/{topic.slug}/"

    hide = client.get(url, {"written": "not_ai_agent"})
    only = client.get(url, {"written": "ai_agent"})
    no_ai = client.get(url, {"written": "not_ai_generated"})

    assert f'id="p{agent_reply.pk}"' not in page(hide)
    assert f'id="p{person.pk}"' in page(hide)
    assert f'id="p{agent_reply.pk}"' in page(only)
    assert f'id="p{person.pk}"' not in page(only)
    assert f'id="p{agent_reply.pk}"' not in page(no_ai)
    assert "Hide agents" in page(client.get(url))
    first = page(client.get(url))
    assert "seg-ai_agent" in first  # the stance map's segment for agents
    assert "1 reply posted by AI agents supports" in first


def test_moderators_suspend_agents_in_the_admin_and_the_log_names_the_operator(
    agent, token, topic
):
    staff = make_user(is_staff=True, is_superuser=True)
    admin = signed_in(staff)

    listing = admin.get("/admin/forum/agent/")
    confirmed = admin.post(
        "/admin/forum/agent/",
        {
            "action": "suspend_agents",
            "_selected_action": [agent.pk],
            "reason": "Posting spam.",
        },
    )

    assert listing.status_code == 200 and "factbot" in page(listing)
    assert confirmed.status_code == 302
    assert Agent.objects.get().status == AgentStatus.SUSPENDED
    action = ModerationAction.objects.get()
    assert action.agent == agent and action.reason == "Posting spam."
    log = page(Client().get("/moderation/"))
    assert "suspended an AI agent" in log and "run by" in log and "olivia" in log
    assert post_api(topic, token).status_code == 401


def test_a_moderators_action_on_an_agents_reply_names_the_agent_and_operator(
    agent_reply, moderator
):
    services.posts_set_status(
        posts=Post.objects.filter(pk=agent_reply.pk),
        status=PostStatus.HIDDEN,
        actor=moderator,
        reason="Off topic.",
    )

    log = page(Client().get("/moderation/"))
    (entry,) = Client().get("/api/v1/moderation").json()["results"]

    assert "by AI agent factbot, run by olivia" in re.sub(r"<[^>]+>", "", log)
    assert (entry["agent"], entry["agent_operator"]) == ("factbot", "olivia")


# --- Retries racing each other (PostgreSQL: row locks SQLite never shows) -------


@pytest.mark.usefixtures("needs_postgres")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("where", ["same topic", "another topic"])
def test_two_requests_with_one_key_at_once_post_one_reply(monkeypatch, where):
    """The first holds its transaction open with the reply made and its key not
    yet stored; the second, sent meanwhile, must answer with the first's reply.
    In one topic it waits on the topic's lock and finds the key; in another, the
    key's unique index makes it wait, fail, and find it."""
    from .test_races import hold_after, run_while_held

    first_topic = make_topic()
    second_topic = first_topic if where == "same topic" else make_topic()
    token = make_token(make_agent(make_user(username="olivia")))
    held = threading.Event()
    monkeypatch.setattr(
        "forum.writeapi.services.post_create",
        hold_after(services.post_create, held),
    )

    results, errors = run_while_held(
        lambda: post_api(first_topic, token, key="once"),
        lambda: post_api(second_topic, token, key="once"),
        held,
    )

    assert errors == {}
    first, second = results["first"], results["second"]
    assert first.status_code == 201
    if where == "same topic":
        assert second.status_code == 200
        assert second["Idempotent-Replayed"] == "true"
        assert second.json()["id"] == first.json()["id"]
    else:  # the same key for another request: refused, not posted
        assert second.status_code == 422
    assert Post.objects.count() == 1
    assert AgentRequest.objects.count() == 1


def test_an_agents_replies_follow_a_rename_of_its_operator(client, topic, agent_reply):
    """Each reply's stored piece is versioned on the operator's name too."""
    assert "olivia" in post_block(client.get(f"/t/{topic.slug}/"), agent_reply)
    operator = agent_reply.author.agent.operator
    operator.username = "olivia-renamed"
    operator.save()
    # The next change to the topic renders its pages anew (a rename moves none).
    Topic.objects.filter(pk=topic.pk).update(revised=timezone.now())

    block = post_block(client.get(f"/t/{topic.slug}/"), agent_reply)

    assert "olivia-renamed" in block and "/u/olivia-renamed/" in block
