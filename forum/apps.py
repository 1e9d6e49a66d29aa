from django.apps import AppConfig


class ForumConfig(AppConfig):
    name = "forum"
    verbose_name = "Standpoint forum"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
