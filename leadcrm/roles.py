"""The two roles of the workspace, as groups (see the README's roles table). Each app grants its
own permissions to them in its `roles.py` (GRANTS: role → codenames of that app's permissions).

Loan officer: sees leads, partners, products and alerts; assigns, writes notes, exports. Never
deletes, never sees raw deliveries or ownership demographics (the fair-lending firewall).
Lending manager: all of that, plus demographics, raw deliveries and reprocessing, the export log,
notification rules and the Azure pull runs.
"""

from django.apps import apps as global_apps

from . import plugins

LOAN_OFFICER = "Loan officer"
LENDING_MANAGER = "Lending manager"
ROLES = (LOAN_OFFICER, LENDING_MANAGER)


def grants() -> dict[str, list[tuple[str, str]]]:
    """Role → (app label, codename) of every permission the apps grant it."""
    wanted: dict[str, list[tuple[str, str]]] = {role: [] for role in ROLES}
    for module in plugins.each("roles"):
        app_label = module.__name__.rpartition(".")[0]
        for role, codenames in module.GRANTS.items():
            wanted[role] += [(app_label, codename) for codename in codenames]
    return wanted


def ensure_roles(group_model, permission_model) -> None:
    """Create the groups and give them what the apps grant, among the permissions that exist
    (after a migrate, those of every app). Takes the models, so that migrations and signal
    handlers can pass their own."""
    for role, wanted in grants().items():
        group, _ = group_model.objects.get_or_create(name=role)
        for app_label, codename in wanted:
            found = permission_model.objects.filter(
                content_type__app_label=app_label, codename=codename
            )
            group.permissions.add(*found)


def after_migrate(sender, apps=global_apps, **kwargs) -> None:
    """post_migrate, once per app: each time the permissions created so far are granted. (After
    a flush, as tests do, it comes without `apps`: the models as they are.)"""
    ensure_roles(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))
