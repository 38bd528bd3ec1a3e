"""The two roles of the workspace, as groups, with the permissions they had when this migration
was written (a migration keeps its own copy; later changes are leadcrm.roles' after each migrate)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

OFFICER = [
    ("leads", "view_lead"),
    ("leads", "assign_lead"),
    ("leads", "export_lead"),
    ("leads", "view_partner"),
    ("leads", "view_product"),
    ("leads", "view_productset"),
    ("leads", "view_statuschange"),
    ("leads", "view_leadnote"),
    ("leads", "add_leadnote"),
    ("alerts", "view_alert"),
    ("alerts", "view_crsuser"),
]
MANAGER = OFFICER + [
    ("leads", "view_demographics"),
    ("leads", "view_leaddelivery"),
    ("leads", "change_leaddelivery"),
    ("leads", "view_exportlog"),
    ("leads", "view_pullrun"),
    ("leads", "view_pulledblob"),
    ("alerts", "view_alertdelivery"),
    ("alerts", "change_crsuser"),
    ("alerts", "view_notification"),
    ("alerts", "view_notificationrule"),
    ("alerts", "add_notificationrule"),
    ("alerts", "change_notificationrule"),
]
ROLES = {"Loan officer": OFFICER, "Lending manager": MANAGER}


def ensure_roles(group_model, permission_model) -> None:
    for name, wanted in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        for app_label, codename in wanted:
            group.permissions.add(
                permission_model.objects.get(content_type__app_label=app_label, codename=codename)
            )


def add_roles(apps, schema_editor):
    # Permissions are normally created after every migration has run: create them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    ensure_roles(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0004_workspace"),
        ("alerts", "0002_default_notification_rules"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(add_roles, remove_roles)]
