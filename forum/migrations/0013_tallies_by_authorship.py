# Tallies keyed by authorship (not its class), and per topic whatever the
# stance, so that every reader filter's count is a sum of stored rows.

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Count, Exists, OuterRef, Q


def ties_of(paid, conflict, has_party):
    # As models.Ties.of was when this migration was written.
    if has_party:
        return "party"
    return "none" if paid == "no" and conflict == "none" else "declared"


def count_existing_replies(apps, schema_editor):
    """Both tallies for the replies already stored, from two grouped counts."""
    Post = apps.get_model("forum", "Post")
    StanceTally = apps.get_model("forum", "StanceTally")
    ReplyTally = apps.get_model("forum", "ReplyTally")
    links = Post.conflict_parties.through.objects.filter(post=OuterRef("pk"))
    published = Post.objects.filter(status="published").annotate(
        has_party=Exists(links)
    )
    segment = ("topic_id", "authorship", "paid", "conflict", "has_party")

    def counted(rows, *extra):
        totals = {}
        for row in rows.annotate(count=Count("pk")).order_by():
            key = (
                *(row[name] for name in extra),
                row["topic_id"],
                row["authorship"],
                ties_of(row["paid"], row["conflict"], row["has_party"]),
            )
            totals[key] = totals.get(key, 0) + row["count"]
        return totals

    by_stance = counted(
        published.filter(stance_links__isnull=False).values(
            *segment,
            position=models.F("stance_links__tag__position_id"),
            polarity=models.F("stance_links__tag__polarity"),
        ),
        "position",
        "polarity",
    )
    StanceTally.objects.bulk_create(
        StanceTally(
            position_id=position,
            polarity=polarity,
            topic_id=topic,
            authorship=authorship,
            ties=ties,
            count=count,
        )
        for (position, polarity, topic, authorship, ties), count in by_stance.items()
    )
    by_topic = counted(published.values(*segment))
    ReplyTally.objects.bulk_create(
        ReplyTally(topic_id=topic, authorship=authorship, ties=ties, count=count)
        for (topic, authorship, ties), count in by_topic.items()
    )


def forget_tallies(apps, schema_editor):
    apps.get_model("forum", "StanceTally").objects.all().delete()


AUTHORSHIPS = [
    ("human", "Human-written"),
    ("ai_polished", "AI-polished"),
    ("ai_assisted", "AI-assisted"),
    ("ai_generated", "AI-generated"),
]
TIES = [
    ("none", "No declared interest"),
    ("declared", "Declared interest"),
    ("party", "Tied to a party"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("forum", "0012_reply_pieces"),
    ]

    operations = [
        # Counted again below, by authorship.
        migrations.RunPython(forget_tallies, forget_tallies),
        migrations.RemoveConstraint(
            model_name="stancetally", name="forum_tally_one_per_segment"
        ),
        migrations.RemoveConstraint(
            model_name="stancetally", name="forum_tally_segment_valid"
        ),
        migrations.RemoveField(model_name="stancetally", name="written"),
        migrations.AddField(
            model_name="stancetally",
            name="authorship",
            field=models.CharField(choices=AUTHORSHIPS, max_length=16),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name="stancetally",
            constraint=models.UniqueConstraint(
                fields=("position", "polarity", "authorship", "ties"),
                name="forum_tally_one_per_segment",
            ),
        ),
        migrations.AddConstraint(
            model_name="stancetally",
            constraint=models.CheckConstraint(
                condition=Q(polarity__in=["supports", "opposes"])
                & Q(authorship__in=[value for value, _ in AUTHORSHIPS])
                & Q(ties__in=[value for value, _ in TIES]),
                name="forum_tally_segment_valid",
            ),
        ),
        migrations.CreateModel(
            name="ReplyTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                ("authorship", models.CharField(choices=AUTHORSHIPS, max_length=16)),
                ("ties", models.CharField(choices=TIES, max_length=16)),
                ("count", models.PositiveIntegerField(default=0)),
                (
                    "topic",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="forum.topic",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("topic", "authorship", "ties"),
                        name="forum_reply_tally_one_per_segment",
                    ),
                    models.CheckConstraint(
                        condition=Q(authorship__in=[value for value, _ in AUTHORSHIPS])
                        & Q(ties__in=[value for value, _ in TIES]),
                        name="forum_reply_tally_segment_valid",
                    ),
                ],
            },
        ),
        migrations.RunPython(count_existing_replies, forget_tallies),
    ]
