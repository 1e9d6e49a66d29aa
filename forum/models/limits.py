"""Flood-control counts kept in the database, where every worker process sees them."""

from django.db import models


class RateCount(models.Model):
    """One window of one limit: how many actions a client took before `until`.

    Written only by forum.limits, with one atomic upsert per count, so
    parallel requests in any number of processes count each other exactly.
    """

    # A digest of the limit, its rate and who is counted (forum.limits).
    name = models.CharField(max_length=64, primary_key=True)
    count = models.IntegerField()
    # When the window closes, in seconds since the epoch.
    until = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["until"], name="forum_ratecount_until")]

    def __str__(self):
        return f"{self.name[:12]}…: {self.count} until {self.until:.0f}"
