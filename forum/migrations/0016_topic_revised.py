"""Topic.revised: every change but a new reply, what full pages of older replies are versioned on."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("forum", "0015_search"),
    ]

    operations = [
        migrations.AddField(
            model_name="topic",
            name="revised",
            field=models.DateTimeField(
                default=django.utils.timezone.now, editable=False
            ),
        ),
        # Existing topics: as revised as they were updated.
        migrations.RunSQL(
            "UPDATE forum_topic SET revised = updated", migrations.RunSQL.noop
        ),
    ]
