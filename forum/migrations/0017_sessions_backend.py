"""Signed-in sessions name forum.auth.Backend, which reads the user in one plain query.

Without this, everyone signed in before the change would be signed out once.
"""

from django.db import migrations

OLD = "django.contrib.auth.backends.ModelBackend"
NEW = "forum.auth.Backend"


def rename(old: str, new: str):
    def run(apps, schema_editor):
        from django.contrib.sessions.backends.db import SessionStore

        store = SessionStore()
        Session = apps.get_model("sessions", "Session")
        for row in Session.objects.iterator():
            data = store.decode(row.session_data)
            if data.get("_auth_user_backend") == old:
                data["_auth_user_backend"] = new
                row.session_data = store.encode(data)
                row.save(update_fields=["session_data"])

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("forum", "0016_topic_revised"),
        ("sessions", "0001_initial"),
    ]

    operations = [migrations.RunPython(rename(OLD, NEW), rename(NEW, OLD))]
