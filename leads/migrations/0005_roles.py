"""The two roles of the workspace, as groups.

Loan officer: sees leads, partners, products and alerts; assigns, writes notes, exports. Never
deletes, never sees raw deliveries or ownership demographics (the fair-lending firewall).
Lending manager: all of that, plus demographics, raw deliveries and reprocessing, the export log,
notification rules and the Azure pull runs.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

LOAN_OFFICER = "Loan officer"
LENDING_MANAGER = "Lending manager"

OFFICER = [
    ("leads", "view_lead"), ("leads", "assign_lead"), ("leads", "export_lead"),
    ("leads", "view_partner"), ("leads", "view_product"), ("leads", "view_productset"),
    ("leads", "view_statuschange"), ("leads", "view_leadnote"), ("leads", "add_leadnote"),
    ("alerts", "view_alert"), ("alerts", "view_crsuser"),
]
MANAGER = OFFICER + [
    ("leads", "view_demographics"), ("leads", "view_leaddelivery"), ("leads", "change_leaddelivery"),
    ("leads", "view_exportlog"), ("leads", "view_pullrun"), ("leads", "view_pulledblob"),
    ("alerts", "view_alertdelivery"), ("alerts", "change_crsuser"), ("alerts", "view_notification"),
    ("alerts", "view_notificationrule"), ("alerts", "add_notificationrule"),
    ("alerts", "change_notificationrule"),
]


def add_roles(apps, schema_editor):
    # Permissions are normally created after every migration has run: create them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for name, wanted in [(LOAN_OFFICER, OFFICER), (LENDING_MANAGER, MANAGER)]:
        group, _ = group_model.objects.get_or_create(name=name)
        for app_label, codename in wanted:
            group.permissions.add(
                permission_model.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=[LOAN_OFFICER, LENDING_MANAGER]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0004_workspace"),
        ("alerts", "0002_default_notification_rules"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(add_roles, remove_roles)]
