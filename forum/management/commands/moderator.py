"""Make an existing user a moderator: admin access with the Moderators group's rights."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from forum.services import user_make_moderator


class Command(BaseCommand):
    help = "Give USERNAME access to the admin as a member of the Moderators group."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(
                f"No user named {username!r}; they sign up first."
            ) from None
        user_make_moderator(user=user)
        self.stdout.write(self.style.SUCCESS(f"{username} is now a moderator."))
