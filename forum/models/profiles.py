"""What readers say about themselves once, to pre-fill each disclosure they still confirm."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from .disclosure import Paid, not_blank
from .rows import plain_get

INTERESTS_MAX_LENGTH = 2000


class DisclosureDefaultsQuerySet(models.QuerySet):
    def current_for(self, user_id: int) -> "DisclosureDefaults | None":
        """The user's current defaults, if they ever set any: every signed-in
        thread page asks, for its reply form's cache key (a plain query)."""
        return plain_get(
            self.model, "user_id = %s", [user_id], order="created DESC, id DESC"
        )


class DisclosureDefaults(models.Model):
    """A user's default disclosure answers. Append-only: the latest row is current.

    The older rows are public on the profile page: a reader can see that
    someone declared an employer last month and dropped it since.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="disclosure_defaults",
    )
    created = models.DateTimeField(default=timezone.now)
    affiliation = models.CharField(max_length=200, blank=True)
    paid = models.CharField(
        "paid to post", max_length=10, choices=Paid.choices, blank=True
    )
    paid_by = models.CharField("paid by", max_length=200, blank=True)
    interests = models.TextField(
        "standing interests",
        max_length=INTERESTS_MAX_LENGTH,
        blank=True,
        help_text="One per line: the party's name, a colon, your tie to it.",
    )

    objects = DisclosureDefaultsQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "disclosure defaults"
        constraints = [
            models.CheckConstraint(
                condition=Q(paid="") | Q(paid__in=Paid.values),
                name="forum_disclosuredefaults_paid_valid",
                violation_error_message="Paid must be empty or one of: "
                + ", ".join(Paid.values)
                + ".",
            ),
            models.CheckConstraint(
                condition=Q(paid__in=["", Paid.NO], paid_by="")
                | Q(paid__in=[Paid.YES, Paid.EXPECTED]) & Q(not_blank("paid_by")),
                name="forum_disclosuredefaults_paid_by_matches_paid",
                violation_error_message="Say who pays when you are paid, and no "
                "one otherwise.",
            ),
        ]

    def __str__(self):
        return f"{self.user}'s disclosure defaults of {self.created:%Y-%m-%d %H:%M}"

    def get_absolute_url(self):
        return reverse("profile", kwargs={"username": self.user.get_username()})

    def interest_lines(self) -> list[tuple[str, str]]:
        """(party name, tie) for each line of `interests`; the tie may be empty."""
        lines = []
        for line in self.interests.splitlines():
            name, _, tie = line.partition(":")
            if name.strip():
                lines.append((name.strip(), tie.strip()))
        return lines
