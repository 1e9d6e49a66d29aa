"""Readers' accounts: signing up, moderators, suspensions and disclosure defaults."""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import transaction
from django.db.models import QuerySet, prefetch_related_objects
from django.utils import timezone

from ..models import (
    Conflict,
    DisclosureDefaults,
    ModerationAction,
    ModerationKind,
    Suspension,
    Topic,
)
from .guards import locked_rows
from .moderation import record
from .validation import (
    validate_defaults,
    validate_reason,
    validate_suspension,
    validate_username,
)

MODERATORS_GROUP = "Moderators"


def user_signup(*, username: str, password: str) -> AbstractBaseUser:
    """Create a reader's account; the form validated both values, the name again here."""
    validate_username(username)
    return get_user_model().objects.create_user(username=username, password=password)


def user_make_moderator(*, user: AbstractBaseUser) -> None:
    """Give `user` the admin with the Moderators group's rights, and nothing more."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.groups.add(Group.objects.get(name=MODERATORS_GROUP))


@transaction.atomic
def user_suspend(
    *, user: AbstractBaseUser, until: datetime, reason: str, actor: AbstractBaseUser
) -> Suspension:
    """Stop `user` posting, proposing and reporting until `until`, logged."""
    reason = validate_reason(reason)
    validate_suspension(user=user, until=until)
    now = timezone.now()
    suspension = Suspension(
        user=user, until=until, reason=reason, created_by=actor, created=now
    )
    suspension.full_clean(exclude=["user", "created_by"], validate_constraints=False)
    suspension.save()
    record(
        [
            ModerationAction(
                actor=actor,
                action=ModerationKind.SUSPEND,
                reason=reason,
                suspension=suspension,
            )
        ]
    )
    return suspension


@transaction.atomic
def suspensions_lift(
    *, suspensions: QuerySet[Suspension], actor: AbstractBaseUser, reason: str
) -> int:
    """End active suspensions now, logged."""
    reason = validate_reason(reason)
    lifting = list(locked_rows(suspensions).active().values_list("pk", flat=True))
    Suspension.objects.filter(pk__in=lifting).update(
        lifted_at=timezone.now(), lifted_by=actor
    )
    record(
        ModerationAction(
            actor=actor,
            action=ModerationKind.LIFT_SUSPENSION,
            reason=reason,
            suspension_id=pk,
        )
        for pk in lifting
    )
    return len(lifting)


def user_defaults(user: AbstractBaseUser) -> DisclosureDefaults | None:
    """The user's current disclosure defaults, if they ever set any."""
    if not user.is_authenticated:
        return None
    return DisclosureDefaults.objects.current_for(user.pk)


@transaction.atomic
def user_set_defaults(
    *,
    user: AbstractBaseUser,
    affiliation: str = "",
    paid: str = "",
    paid_by: str = "",
    interests: str = "",
) -> DisclosureDefaults | None:
    """Record the user's new defaults, unless they are the current ones; None if unchanged."""
    lines = (line.strip() for line in interests.strip().splitlines())
    values = {
        "affiliation": affiliation.strip(),
        "paid": paid,
        "paid_by": paid_by.strip(),
        "interests": "\n".join(line for line in lines if line),
    }
    validate_defaults(**values)
    # Lock the user's row: two saves at once must not both find nothing changed.
    get_user_model().objects.select_for_update().filter(pk=user.pk).exists()
    current = DisclosureDefaults.objects.filter(user=user).first()
    if current and all(getattr(current, k) == v for k, v in values.items()):
        return None
    defaults = DisclosureDefaults(user=user, **values)
    defaults.full_clean(exclude=["user"], validate_constraints=False)
    defaults.save()
    return defaults


def defaults_initial(defaults: DisclosureDefaults | None, topic: Topic) -> dict:
    """A reply form's initial disclosure from the author's defaults, for this topic.

    A standing interest in one of the topic's parties pre-fills the conflict
    declaration; the author still confirms every answer.
    """
    if defaults is None:
        return {}
    # One read of the parties for every interest line, unless the page has them.
    prefetch_related_objects([topic], "parties")
    initial = {
        "affiliation": defaults.affiliation,
        "paid": defaults.paid,
        "paid_by": defaults.paid_by,
    }
    parties, ties = [], []
    for name, tie in defaults.interest_lines():
        party = topic.party_named(name)
        if party is not None and party not in parties:
            parties.append(party)
            ties.append(f"{party.name}: {tie}" if tie else party.name)
    if parties:
        initial["conflict"] = Conflict.DECLARED
        initial["conflict_details"] = "; ".join(ties)
        initial["conflict_parties"] = [party.slug for party in parties]
    return {name: value for name, value in initial.items() if value}
