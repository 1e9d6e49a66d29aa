"""A reply piece keeps its JSON-LD as ready text, which a page joins as it is.

Pieces are a store of renderings: they are emptied and made again as pages
are read (forum/pieces.py), so no old record is ever joined unescaped.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("forum", "0017_sessions_backend"),
    ]

    operations = [
        migrations.RunSQL("DELETE FROM forum_replypiece", migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="replypiece",
            name="record",
            field=models.TextField(blank=True, default=""),
            preserve_default=False,
        ),
    ]
