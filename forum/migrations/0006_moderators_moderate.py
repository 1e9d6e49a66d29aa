"""Let the Moderators group run the report queue, suspensions and proposals.

They view the moderation log; nobody changes or deletes it.
"""

from django.db import migrations

from ._group import grant, revoke

PERMISSIONS = {
    "forum": {
        "report": ["view", "change"],
        "reportedpost": ["view", "change"],
        "suspension": ["view", "add", "change"],
        "positionproposal": ["view", "change"],
        "moderationaction": ["view"],
    },
}


def grant_more(apps, schema_editor):
    grant(apps, PERMISSIONS)


def revoke_more(apps, schema_editor):
    revoke(apps, PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("forum", "0005_moderation")]

    operations = [migrations.RunPython(grant_more, revoke_more)]
