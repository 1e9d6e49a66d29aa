"""The stance map's counts, stored: one row per position, side and segment."""

from django.db import models
from django.db.models import Q

from .disclosure import Ties, Written
from .topics import Polarity, Position, Topic


class StanceTally(models.Model):
    """Published replies taking one side of a position, in one authorship class
    and one interest class.

    Kept by forum.services.tallies in every writing transaction that moves a
    reply between segments, so no page counts replies; `manage.py tallies
    --check` recounts them to prove it. The topic is stored beside the position
    so a page of topics reads its tallies in one query.
    """

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="+")
    position = models.ForeignKey(
        Position, on_delete=models.CASCADE, related_name="tallies"
    )
    polarity = models.CharField(max_length=8, choices=Polarity.choices)
    written = models.CharField(max_length=16, choices=Written.choices)
    ties = models.CharField(max_length=16, choices=Ties.choices)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["position", "polarity", "written", "ties"],
                name="forum_tally_one_per_segment",
            ),
            models.CheckConstraint(
                condition=Q(polarity__in=Polarity.values)
                & Q(written__in=Written.values)
                & Q(ties__in=Ties.values),
                name="forum_tally_segment_valid",
            ),
        ]
        indexes = [models.Index(fields=["topic"], name="forum_tally_topic")]

    def __str__(self):
        return f"{self.position_id} {self.polarity} {self.written} {self.ties}: {self.count}"
