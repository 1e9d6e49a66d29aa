# Each reply numbered in its thread, so a page of the whole thread is a range
# of numbers found through an index, at any depth.

from django.db import migrations, models


def number_existing_replies(apps, schema_editor):
    """Number every thread's replies in the order they were shown: created, id.

    One statement with a window function (SQLite 3.33+ and PostgreSQL both
    read it), where numbering row by row would take minutes on a long thread.
    """
    table = schema_editor.quote_name("forum_post")
    schema_editor.execute(
        f"UPDATE {table} SET number = ordered.n FROM ("
        "  SELECT id, ROW_NUMBER() OVER ("
        "    PARTITION BY topic_id ORDER BY created, id"
        "  ) AS n"
        f"  FROM {table}"
        f") AS ordered WHERE {table}.id = ordered.id"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("forum", "0013_tallies_by_authorship"),
    ]

    operations = [
        migrations.AddField(
            model_name="post",
            name="number",
            field=models.PositiveIntegerField(editable=False, null=True),
        ),
        migrations.RunPython(number_existing_replies, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="post",
            name="number",
            field=models.PositiveIntegerField(editable=False),
        ),
        migrations.RemoveIndex(model_name="post", name="forum_post_thread"),
        migrations.RemoveIndex(model_name="post", name="forum_post_thread_all"),
        migrations.AddIndex(
            model_name="post",
            index=models.Index(
                fields=["topic", "status", "number"], name="forum_post_thread"
            ),
        ),
        migrations.AddConstraint(
            model_name="post",
            constraint=models.UniqueConstraint(
                fields=("topic", "number"), name="forum_post_one_per_number"
            ),
        ),
    ]
