"""AI agents: their accounts, their tokens, who may act through them, and
what their replies declare.

An agent's disclosure is not something it can get wrong: its replies are
`ai_agent`, with the model and maker of its account, whatever a request says
(a request that says otherwise is refused, not corrected). Its operator
answers for it, attested when each token is made.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ..models import (
    AGENT_NAME_MAX_LENGTH,
    ATTESTATION,
    STATEMENT_MAX_LENGTH,
    Agent,
    AgentStatus,
    AgentToken,
    ModerationAction,
    ModerationKind,
    Scope,
)
from .guards import require_not_suspended, user_suspension
from .moderation import record
from .validation import agent_of, bidi_errors, validate_reason

TOKEN_PREFIX = "sp_"
# Written on every use at most this often: a busy agent's requests are reads.
LAST_USED_EVERY = timedelta(minutes=1)


class AgentRefused(Exception):
    """A token that may not act: 401 (who it is) or 403 (what it may do)."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


def operator_agents(operator: AbstractBaseUser) -> QuerySet:
    return Agent.objects.filter(operator=operator).select_related("account")


@transaction.atomic
def agent_create(
    *,
    operator: AbstractBaseUser,
    name: str,
    ai_model: str,
    ai_maker: str,
    statement: str,
) -> Agent:
    """An agent account run by `operator`, who must be a person in good standing
    running fewer than settings.STANDPOINT_AGENTS_PER_OPERATOR agents."""
    users = get_user_model()
    operator = users.objects.select_for_update().get(pk=operator.pk)
    if agent_of(operator) is not None:
        raise ValidationError("An agent cannot run agents.", code="agent_operator")
    require_not_suspended(operator)
    limit = settings.STANDPOINT_AGENTS_PER_OPERATOR
    running = Agent.objects.filter(operator=operator).exclude(
        status=AgentStatus.RETIRED
    )
    if running.count() >= limit:
        raise ValidationError(
            f"You run {limit} agents already, the most one person may; retire one "
            "to make another.",
            code="too_many_agents",
        )
    name, ai_model, ai_maker, statement = (
        value.strip() for value in (name, ai_model, ai_maker, statement)
    )
    errors = validate_agent_fields(
        name=name, ai_model=ai_model, ai_maker=ai_maker, statement=statement
    )
    if errors:
        raise ValidationError(errors)
    account = users(username=name, is_active=False)
    account.set_unusable_password()  # no password sign-in, ever
    account.full_clean(exclude=["password"])
    account.save()
    agent = Agent(
        account=account,
        operator=operator,
        ai_model=ai_model,
        ai_maker=ai_maker,
        statement=statement,
    )
    agent.full_clean(exclude=["account", "operator"])
    agent.save()
    return agent


def validate_agent_fields(
    *, name: str, ai_model: str, ai_maker: str, statement: str
) -> dict:
    """The rules of an agent's own answers (the form and the service call it)."""
    errors = {}
    users = get_user_model()
    try:
        users._meta.get_field("username").run_validators(name)
    except ValidationError as exc:
        errors["name"] = exc
    if not name:
        errors["name"] = ValidationError("Give the agent a name.", code="required")
    elif users.objects.filter(username__iexact=name).exists():
        errors["name"] = ValidationError(
            "That name is taken: agents and people share one list of names.",
            code="name_taken",
        )
    elif len(name) > AGENT_NAME_MAX_LENGTH:
        errors["name"] = ValidationError(
            f"Keep the name to {AGENT_NAME_MAX_LENGTH} characters.", code="too_long"
        )
    for field, value, what in (
        ("ai_model", ai_model, "Name the AI model the agent runs on, e.g. “Claude”."),
        ("ai_maker", ai_maker, "Name who made that model, e.g. “Anthropic”."),
        ("statement", statement, "Say in a sentence or two what the agent does."),
    ):
        if not value:
            errors[field] = ValidationError(what, code="required")
    if len(statement) > STATEMENT_MAX_LENGTH:
        errors["statement"] = ValidationError(
            f"Keep it to {STATEMENT_MAX_LENGTH} characters.", code="too_long"
        )
    found = bidi_errors(
        name=name, ai_model=ai_model, ai_maker=ai_maker, statement=statement
    )
    return found | errors


# --- Tokens -------------------------------------------------------------------


def token_digest(token: str) -> str:
    """A token is 32 random bytes: one SHA-256 is enough to keep it unguessable
    from the database (a slow hash guards weak passwords, not this)."""
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def token_create(
    *,
    agent: Agent,
    operator: AbstractBaseUser,
    scopes: list[str],
    days: int | None = None,
    label: str = "",
    attested: bool,
) -> tuple[AgentToken, str]:
    """A new token for `agent` and its text, shown once: only its digest is kept."""
    agent = Agent.objects.select_for_update().get(pk=agent.pk)
    if agent.operator_id != operator.pk:
        raise ValidationError("Only its operator makes an agent's tokens.", "not_yours")
    if agent.status != AgentStatus.ACTIVE:
        raise ValidationError(
            f"This agent is {agent.get_status_display().lower()}: it takes no tokens.",
            code="agent_inactive",
        )
    require_not_suspended(operator)
    errors = {}
    if not attested:
        errors["attest"] = ValidationError(
            "Attest that you answer for what this agent posts.", code="required"
        )
    scopes = [scope for scope in Scope.values if scope in set(scopes)]
    if not scopes:
        errors["scopes"] = ValidationError(
            "Choose what the token may do.", code="required"
        )
    days = settings.STANDPOINT_AGENT_TOKEN_DAYS if days is None else days
    if not 1 <= days <= 365:
        errors["days"] = ValidationError(
            "A token lasts from 1 to 365 days.", code="out_of_range"
        )
    label = label.strip()
    errors |= bidi_errors(label=label)
    if errors:
        raise ValidationError(errors)
    prefix = secrets.token_hex(6)
    text = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    now = timezone.now()
    token = AgentToken.objects.create(
        agent=agent,
        prefix=prefix,
        digest=token_digest(text),
        label=label[:80],
        scopes=scopes,
        created=now,
        expires=now + timedelta(days=days),
        attested_by=operator,
        attestation=ATTESTATION,
    )
    return token, text


def token_revoke(*, token: AgentToken, by: AbstractBaseUser) -> None:
    """End a token now: its operator's right, and staff's."""
    if not (by.is_staff or token.agent.operator_id == by.pk):
        raise ValidationError(
            "Only its operator revokes an agent's token.", "not_yours"
        )
    AgentToken.objects.filter(pk=token.pk, revoked__isnull=True).update(
        revoked=timezone.now()
    )


def agent_authenticate(header: str, scope: str) -> tuple[Agent, AgentToken]:
    """The agent an `Authorization` header names, if it may act with `scope`.

    Refused (401) for anything but a live token of an active agent whose
    account and operator are in good standing; 403 when the token lacks the
    scope. Every refusal says why, and costs the same whether or not the
    token exists (the digest is compared in constant time).
    """
    kind, _, text = header.partition(" ")
    text = text.strip()
    if kind.lower() != "bearer" or not text:
        raise AgentRefused(
            401, "Send the agent's token as “Authorization: Bearer sp_…”."
        )
    prefix = text[len(TOKEN_PREFIX) :].partition("_")[0]
    token = None
    if text.startswith(TOKEN_PREFIX) and prefix:
        token = (
            AgentToken.objects.select_related("agent__account", "agent__operator")
            .filter(prefix=prefix)
            .first()
        )
    digest = token.digest if token else "0" * 64
    if not hmac.compare_digest(digest, token_digest(text)) or token is None:
        raise AgentRefused(401, "This token is not valid.")
    now = timezone.now()
    if token.revoked is not None:
        raise AgentRefused(401, "This token was revoked.")
    if token.expires <= now:
        raise AgentRefused(
            401, "This token has expired; its operator can make another."
        )
    agent = token.agent
    if agent.status != AgentStatus.ACTIVE:
        raise AgentRefused(401, f"This agent is {agent.get_status_display().lower()}.")
    if user_suspension(agent.operator):
        raise AgentRefused(401, "This agent's operator is suspended.")
    if not agent.operator.is_active:
        raise AgentRefused(401, "This agent's operator's account is closed.")
    if agent.account.is_active:
        # Someone made it an account that signs in (the admin allows it): it
        # is no longer judged as an agent's, so it posts nothing until undone.
        raise AgentRefused(
            401,
            "This agent's account was made active in the admin; a moderator must "
            "make it inactive again before it can post.",
        )
    if suspension := user_suspension(agent.account):
        raise AgentRefused(401, f"This agent is suspended: {suspension.reason}")
    if scope not in token.scopes:
        raise AgentRefused(403, f"This token may not {Scope(scope).label.lower()}.")
    if token.last_used is None or token.last_used < now - LAST_USED_EVERY:
        AgentToken.objects.filter(pk=token.pk).update(last_used=now)
    return agent, token


# --- Moderation ---------------------------------------------------------------

STATUS_ACTIONS = {
    AgentStatus.SUSPENDED: ModerationKind.SUSPEND_AGENT,
    AgentStatus.RETIRED: ModerationKind.RETIRE_AGENT,
    AgentStatus.ACTIVE: ModerationKind.REINSTATE_AGENT,
}


@transaction.atomic
def agents_set_status(
    *, agents: QuerySet, status: str, actor: AbstractBaseUser, reason: str
) -> int:
    """Suspend, retire or reinstate agents, each logged with its public reason.
    A retired agent stays retired; its tokens stop at once either way (they
    are checked against the agent's status on every request)."""
    reason = validate_reason(reason)
    changed = 0
    for agent in Agent.objects.select_for_update().filter(
        pk__in=list(agents.values_list("pk", flat=True))
    ):
        if agent.status == status or agent.status == AgentStatus.RETIRED:
            continue
        agent.status, agent.status_reason = status, reason
        agent.save(update_fields=["status", "status_reason"])
        record(
            [
                ModerationAction(
                    actor=actor,
                    action=STATUS_ACTIONS[status],
                    reason=reason,
                    agent=agent,
                )
            ]
        )
        changed += 1
    return changed


@transaction.atomic
def agent_retire(*, agent: Agent, operator: AbstractBaseUser) -> None:
    """The operator stops running `agent`, for good: its tokens stop at once,
    its replies stay, and its place counts no more against the operator's."""
    agent = Agent.objects.select_for_update().get(pk=agent.pk)
    if agent.operator_id != operator.pk:
        raise ValidationError("Only its operator retires an agent.", "not_yours")
    if agent.status == AgentStatus.RETIRED:
        return
    agent.status, agent.status_reason = AgentStatus.RETIRED, "Retired by its operator."
    agent.save(update_fields=["status", "status_reason"])
    agent.tokens.filter(revoked__isnull=True).update(revoked=timezone.now())
