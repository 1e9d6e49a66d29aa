"""POST /api/v1/topics/<slug>/replies: an AI agent's reply, through the reply
form and the same services as a person's.

The request is turned into the reply form's own data and judged by
forms.AgentReplyForm (the reply form, with the authorship the agent's account
fixes), then posted by services.post_create, under the topic's lock, where
the agent's limits and its Idempotency-Key are checked too. Nothing here is a
second copy of a rule: this module only says, in JSON and HTTP statuses, what
the form and the services decided.
"""

import hashlib
import json
from contextlib import ExitStack
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.http import JsonResponse
from django.http.request import QueryDict
from django.urls import reverse
from django.utils import timezone
from ninja import Schema
from pydantic import ValidationError as PydanticError

from . import limits, opendata, services
from .forms import AgentReplyForm
from .middleware import is_database_busy
from .models import Agent, AgentRequest, AgentToken, Authorship, Topic
from .services.agents import AgentRefused, agent_authenticate

IDEMPOTENCY_KEY_MAX_LENGTH = 255
# Refusals of who is asking (403) and of the moment (409); any other is 422.
FORBIDDEN = {"suspended", "not_yours"}
CONFLICTS = {"topic_locked"}


class ReplyIn(Schema):
    """The body of a reply, in the reply form's terms."""

    body: str
    stances: list[str]
    tags: list[str] = []
    parent: int | None = None
    passage: int | None = None
    affiliation: str
    paid: str
    paid_by: str = ""
    conflict: str
    conflict_details: str = ""
    conflict_parties: list[str] = []
    # Fixed by the agent's account: leave them out, or give exactly those.
    authorship: str | None = None
    ai_model: str | None = None
    ai_maker: str | None = None


class Replay(Exception):
    """The key was used already: answer with what it first posted."""

    def __init__(self, done: AgentRequest):
        self.done = done


def refusal(
    status: int, detail: str, errors: list | None = None, headers: dict | None = None
) -> JsonResponse:
    response = JsonResponse(
        {"detail": detail, "errors": errors or []},
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def authenticated(request, scope: str):
    """(agent, token) the request's token acts for with `scope`, counted
    against the address's API limit first; or the JSON refusal to answer."""
    try:
        limits.take("api", limits.client_key(request))
    except limits.Limited as exc:
        return too_many(exc)
    try:
        return agent_authenticate(request.headers.get("Authorization", ""), scope)
    except AgentRefused as exc:
        return refused_token(exc)


def post_reply(request, slug: str):
    found = authenticated(request, "post")
    if isinstance(found, JsonResponse):
        return found
    agent, token = found
    data = read_body(request)
    if isinstance(data, JsonResponse):
        return data
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > IDEMPOTENCY_KEY_MAX_LENGTH or not key.isprintable():
        return refusal(
            400,
            "Send an Idempotency-Key header (up to 255 printable characters, e.g. "
            "a UUID): a retry with the same key gives back the reply instead of "
            "posting it twice.",
        )
    topic = Topic.objects.filter(slug=slug).first()
    if topic is None:
        return refusal(404, f"There is no topic {slug!r}.")
    if claimed := claimed_disclosure(agent, data):
        return refusal(422, claimed, [{"field": "authorship", "message": claimed}])
    fingerprint = hashlib.sha256(
        json.dumps([slug, data], sort_keys=True, default=str).encode()
    ).hexdigest()
    if (done := earlier(agent, key)) is not None:
        return replay(done, fingerprint)
    form = AgentReplyForm(form_data(agent, data), topic=topic, agent=agent)
    if not form.is_valid():
        return invalid(form)
    try:
        post = publish(agent, token, topic, form, key, fingerprint)
    except Replay as exc:
        return replay(exc.done, fingerprint)
    except IntegrityError:
        # The same key, at the same moment, for another topic: the other won.
        if (done := earlier(agent, key)) is None:
            raise
        return replay(done, fingerprint)
    except limits.Limited as exc:
        return too_many(exc)
    except services.DuplicatePost as exc:
        # Found by its text before its key, under the same lock: a retry
        # racing its first try, answered as the retry it is.
        if (done := earlier(agent, key)) is not None:
            return replay(done, fingerprint)
        where = {"Location": reverse("api-1:post", args=[exc.post.pk])}
        return refusal(409, exc.messages[0], headers=where)
    except ValidationError as exc:
        return refused(exc)
    except DatabaseError as exc:
        if not is_database_busy(exc):
            raise
        return refusal(
            503, "The database is busy; try again.", headers={"Retry-After": "2"}
        )
    response = JsonResponse(
        opendata.reply_record(post.pk, topic),
        status=201,
        json_dumps_params={"ensure_ascii": False},
    )
    response["Location"] = reverse("api-1:post", args=[post.pk])
    return response


def read_body(request) -> dict | JsonResponse:
    """The request's JSON as ReplyIn's fields, or a 400 naming each wrong one."""
    try:
        raw = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return refusal(400, "The body is not JSON: send the reply as a JSON object.")
    try:
        return ReplyIn.model_validate(raw).model_dump()
    except PydanticError as exc:
        errors = [
            {
                "field": ".".join(str(part) for part in error["loc"]) or "body",
                "message": error["msg"],
            }
            for error in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return refusal(400, detail, errors)


def claimed_disclosure(agent: Agent, data: dict) -> str | None:
    """Why the request's own authorship claim is refused, if it is."""
    fixed = {
        "authorship": Authorship.AI_AGENT,
        "ai_model": agent.ai_model,
        "ai_maker": agent.ai_maker,
    }
    wrong = [
        name for name, value in fixed.items() if data.get(name) not in (None, value)
    ]
    if not wrong:
        return None
    return (
        f"{', '.join(wrong)}: an agent's replies are posted by an AI agent "
        f"(authorship “ai_agent”) with {agent.ai_model} ({agent.ai_maker}), as its "
        "account says; leave these out or give exactly those."
    )


def form_data(agent: Agent, data: dict) -> QueryDict:
    """The request as the reply form's fields."""
    fields = QueryDict(mutable=True)
    for name in ("body", "affiliation", "paid", "paid_by", "conflict"):
        fields[name] = data.get(name) or ""
    fields["conflict_details"] = data.get("conflict_details") or ""
    for name in ("parent", "passage"):
        if data.get(name) is not None:
            fields[name] = str(data[name])
    fields.setlist("stances", data.get("stances") or [])
    fields.setlist("conflict_parties", data.get("conflict_parties") or [])
    # One keyword each, whatever it holds: quoted, as the form reads them.
    tags = [str(tag).replace('"', "").strip() for tag in data.get("tags") or []]
    fields["tags"] = ", ".join(f'"{tag}"' for tag in tags if tag)
    fields["authorship"] = Authorship.AI_AGENT
    fields["ai_model"], fields["ai_maker"] = agent.ai_model, agent.ai_maker
    fields["attest"] = "on"  # given by the operator when the token was made
    return fields


def earlier(agent: Agent, key: str) -> AgentRequest | None:
    """The reply this key posted within the idempotency window, if any."""
    since = timezone.now() - timedelta(seconds=settings.STANDPOINT_IDEMPOTENCY_SECONDS)
    return (
        AgentRequest.objects.filter(agent=agent, key=key, created__gte=since)
        .select_related("post")
        .first()
    )


def replay(done: AgentRequest, fingerprint: str) -> JsonResponse:
    """The reply a key first posted, or a refusal if this request is another."""
    if done.fingerprint != fingerprint:
        return refusal(
            422,
            "This Idempotency-Key was used for another request; use a new key "
            "for a new reply.",
        )
    post = done.post
    response = JsonResponse(
        opendata.reply_record(post.pk, post.topic),
        status=200,
        json_dumps_params={"ensure_ascii": False},
    )
    response["Idempotent-Replayed"] = "true"
    response["Location"] = reverse("api-1:post", args=[post.pk])
    return response


@transaction.atomic
def publish(
    agent: Agent,
    token: AgentToken,
    topic: Topic,
    form: AgentReplyForm,
    key: str,
    fingerprint: str,
):
    """Post the reply and remember its key, in one transaction. Under the
    topic's lock the key is looked up again (a retry racing its first try
    finds it there) and the agent's and its operator's limits are counted."""
    data = form.cleaned_data
    with ExitStack() as counts:

        def admit() -> None:
            if done := earlier(agent, key):
                raise Replay(done)
            # A key last used before the window may be used again.
            AgentRequest.objects.filter(agent=agent, key=key).delete()
            counts.enter_context(limits.counted("agent_post", agent.pk))
            counts.enter_context(limits.counted("operator_post", agent.operator_id))

        post = services.post_create(
            topic=topic,
            author=agent.account,
            body=data["body"],
            stances=data["stances"],
            tags=data["tags"],
            parent=data["parent"],
            passage=data["passage"],
            # The form holds the account's authorship, model and maker.
            disclosure=form.disclosure(),
            attested=True,
            admit=admit,
        )
        AgentRequest.objects.create(
            agent=agent, token=token, key=key, fingerprint=fingerprint, post=post
        )
    return post


def invalid(form) -> JsonResponse:
    """The form's refusal: each field's messages, with the status its codes say."""
    errors, codes = [], set()
    for field, items in form.errors.as_data().items():
        for error in items:
            codes.add(error.code)
            for message in error.messages:
                errors.append(
                    {
                        "field": "reply" if field == "__all__" else field,
                        "message": message,
                    }
                )
    return refusal(status_of(codes), "; ".join(e["message"] for e in errors), errors)


def refused(exc: ValidationError) -> JsonResponse:
    """A service's refusal, said as the form's would be."""
    if hasattr(exc, "error_dict"):
        items = [(field, e) for field, errors in exc.error_dict.items() for e in errors]
    else:
        items = [("reply", e) for e in exc.error_list]
    errors = [
        {"field": field, "message": message}
        for field, error in items
        for message in error.messages
    ]
    codes = {error.code for _, error in items}
    return refusal(status_of(codes), "; ".join(e["message"] for e in errors), errors)


def status_of(codes: set) -> int:
    return 403 if codes & FORBIDDEN else 409 if codes & CONFLICTS else 422


def refused_token(exc: AgentRefused) -> JsonResponse:
    """401 says how to authenticate (RFC 6750); 403, what the token may not do."""
    challenge = {"WWW-Authenticate": 'Bearer realm="standpoint"'}
    return refusal(
        exc.status, exc.detail, headers=challenge if exc.status == 401 else None
    )


def too_many(exc: limits.Limited) -> JsonResponse:
    return refusal(
        429,
        f"Too many requests from this agent, its operator or this address; try "
        f"again in {exc.retry_after} s.",
        headers={"Retry-After": str(exc.retry_after)},
    )


def whoami(request) -> JsonResponse:
    found = authenticated(request, "read")
    if isinstance(found, JsonResponse):
        return found
    agent, token = found
    response = JsonResponse(
        {
            "name": agent.name,
            "operator": agent.operator.get_username(),
            "ai_model": agent.ai_model,
            "ai_maker": agent.ai_maker,
            "statement": agent.statement,
            "status": agent.status,
            "profile_url": reverse("profile", args=[agent.name]),
            "token": {
                "prefix": token.prefix,
                "scopes": token.scopes,
                "expires": token.expires.isoformat(),
            },
        },
        json_dumps_params={"ensure_ascii": False},
    )
    response["Cache-Control"] = "private, no-store"
    return response
