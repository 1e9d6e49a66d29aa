"""The checks a reader's write makes first, under the rows it locks.

A rule read before the transaction (a topic open a moment ago) is read again
inside it, so what the write checks is what it changes.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from ..models import Suspension, Topic

# A locked topic's refusals, in one place for the services, views and pages.
TOPIC_LOCKED = "This topic is locked: it takes no new replies."
TOPIC_LOCKED_TO_EDITS = "This topic is locked: its replies can no longer be edited."
TOPIC_LOCKED_TO_PROPOSALS = "This topic is locked: it takes no new positions."


def locked_rows(queryset: QuerySet) -> QuerySet:
    """The rows of `queryset`, locked for this transaction.

    By primary key: PostgreSQL refuses FOR UPDATE on a query with GROUP BY, as
    the admin's annotated querysets (the report queue) are.
    """
    pks = list(queryset.values_list("pk", flat=True))
    # NO KEY: a reply being inserted meanwhile takes KEY SHARE on its parent
    # post and topic; a plain FOR UPDATE would deadlock with it.
    manager = queryset.model._default_manager
    return manager.filter(pk__in=pks).select_for_update(no_key=True)


def topic_open(topic: Topic, *, refusal: str = TOPIC_LOCKED) -> Topic:
    """The topic re-read under its lock, or a refusal if it is locked now."""
    topic = Topic.objects.select_for_update().get(pk=topic.pk)
    if topic.is_locked:
        raise ValidationError(refusal, code="topic_locked")
    return topic


def user_suspension(user: AbstractBaseUser) -> Suspension | None:
    """The user's active suspension that ends last, if any."""
    if not user.is_authenticated:
        return None
    return Suspension.objects.active().filter(user=user).order_by("-until").first()


def require_not_suspended(user: AbstractBaseUser) -> None:
    if suspension := user_suspension(user):
        raise ValidationError(suspension.message, code="suspended")
