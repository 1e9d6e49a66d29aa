"""Grant the Moderators group permissions from a migration (not a migration itself)."""

from django.contrib.auth.management import create_permissions

GROUP = "Moderators"


def _permissions(apps, permissions: dict):
    # Permissions are normally made after all migrations; make them now so the
    # group can hold them on a fresh database.
    for app_label in permissions:
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Permission = apps.get_model("auth", "Permission")
    for app_label, models in permissions.items():
        for model, actions in models.items():
            for action in actions:
                yield Permission.objects.get(
                    content_type__app_label=app_label, codename=f"{action}_{model}"
                )


def grant(apps, permissions: dict) -> None:
    group, _ = apps.get_model("auth", "Group").objects.get_or_create(name=GROUP)
    group.permissions.add(*_permissions(apps, permissions))


def revoke(apps, permissions: dict) -> None:
    group = apps.get_model("auth", "Group").objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(*_permissions(apps, permissions))
