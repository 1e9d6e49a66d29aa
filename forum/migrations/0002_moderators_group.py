"""Create the Moderators group: it may change posts and topics, never users."""

from django.db import migrations

from ._group import GROUP, grant

PERMISSIONS = {
    "forum": {
        "post": ["view", "change"],
        "topic": ["view", "change", "add"],
        "party": ["view", "change", "add", "delete"],
        "position": ["view", "change", "add", "delete"],
        "stance": ["view"],
    },
    "taggit": {"tag": ["view", "change"]},
}


def create_group(apps, schema_editor):
    grant(apps, PERMISSIONS)


def delete_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("forum", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        (
            "taggit",
            "0006_rename_taggeditem_content_type_object_id_taggit_tagg_content_8fc721_idx",
        ),
    ]

    operations = [migrations.RunPython(create_group, delete_group)]
