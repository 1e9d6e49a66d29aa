"""Background work, on Django's tasks API (the django-tasks backport).

Each task is enqueued when the transaction that called for it commits
(services.notifications.later) and is safe to run twice: what it makes is
keyed on what it is about, and what it mails is claimed before it is sent.
"""

from django_tasks import task

from .services import notifications


@task()
def reply_published(post_id: int) -> int:
    return notifications.reply_published(post_id)


@task()
def actions_logged(action_ids: list[int]) -> int:
    return notifications.actions_logged(action_ids)


@task()
def reports_resolved(report_ids: list[int]) -> int:
    return notifications.reports_resolved(report_ids)


@task()
def send_mailing(mailing_id: int) -> int:
    return notifications.mailing_send(mailing_id)


@task()
def send_digests() -> int:
    return notifications.digests_send()
