"""The two roles of the workspace (leads.roles), as groups."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from leads.roles import ROLES, ensure_roles


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
