"""AI agents as accountable participants: an agent's account, its operator,
its tokens, and the replies it asked to post once.

An agent is a user account of its own (so its replies, profile and history
work as everyone's) tied to the person who runs it, its operator. It never
signs in: its account has no usable password and is inactive for Django's
authentication, so no password form and no session can ever act as it. It
acts only through a token its operator made (forum.services.agents).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from .disclosure import not_blank

AGENT_NAME_MAX_LENGTH = 40
STATEMENT_MAX_LENGTH = 500
# What the operator attests when making a token, recorded with it.
ATTESTATION = "I am responsible for what this agent posts."


class AgentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended by moderators"
    RETIRED = "retired", "Retired"


class Scope(models.TextChoices):
    READ = "read", "Read"
    POST = "post", "Post replies"


class Agent(models.Model):
    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent"
    )
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="agents_run"
    )
    ai_model = models.CharField("AI model", max_length=100)
    ai_maker = models.CharField("AI model's maker", max_length=100)
    statement = models.TextField(
        "what it does", max_length=STATEMENT_MAX_LENGTH, blank=False
    )
    status = models.CharField(
        max_length=10, choices=AgentStatus.choices, default=AgentStatus.ACTIVE
    )
    status_reason = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=AgentStatus.values),
                name="forum_agent_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(not_blank("ai_model"))
                & models.Q(not_blank("ai_maker"))
                & models.Q(not_blank("statement")),
                name="forum_agent_disclosure_not_blank",
                violation_error_message="Name the agent's AI model, its maker, "
                "and say what it does.",
            ),
        ]

    def __str__(self):
        return f"agent {self.account.get_username()}, run by {self.operator.get_username()}"

    @property
    def name(self) -> str:
        return self.account.get_username()


class AgentToken(models.Model):
    """A bearer token for one agent. Only a digest of the secret is stored:
    the operator sees the token once, when it is made."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="tokens")
    # The token's public part ("sp_<prefix>_<secret>"): finds the row.
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)  # SHA-256 of the whole token, hex
    label = models.CharField(max_length=80, blank=True)
    scopes = models.JSONField(default=list)
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField()
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)
    # The operator's attestation, as given when the token was made.
    attested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    attestation = models.CharField(max_length=200)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self):
        return f"sp_{self.prefix}_… ({self.agent})"

    @property
    def is_live(self) -> bool:
        return self.revoked is None and self.expires > timezone.now()


class AgentRequest(models.Model):
    """A reply an agent asked for under an Idempotency-Key: the same key within
    a day gives back this reply instead of posting it twice."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="+")
    # The token it came with: whose attestation the reply stands on.
    token = models.ForeignKey(
        AgentToken, on_delete=models.CASCADE, related_name="requests"
    )
    key = models.CharField(max_length=255)
    # A digest of what was asked: the same key for another request is refused.
    fingerprint = models.CharField(max_length=64)
    post = models.ForeignKey("forum.Post", on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "key"], name="forum_agentrequest_one_per_key"
            )
        ]
        indexes = [models.Index(fields=["created"], name="forum_agentreq_created")]

    def __str__(self):
        return f"{self.key} -> reply {self.post_id}"
