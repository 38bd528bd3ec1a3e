"""Starting rules, editable in the admin: credit alerts reach the person and their loan officer;
failures that block a person's monitoring reach the officer."""

from django.db import migrations

RULES = [
    ("ACCALERT", True, True),
    ("IDFAIL", False, True),
    ("ACCREGFAIL", False, True),
    ("ACCLOCKED", False, True),
]


def add_rules(apps, schema_editor):
    rule = apps.get_model("alerts", "NotificationRule")
    for alert_type, crs_user, officer in RULES:
        rule.objects.get_or_create(
            alert_type=alert_type,
            defaults={"notify_crs_user": crs_user, "notify_assigned_officer": officer},
        )


class Migration(migrations.Migration):
    dependencies = [("alerts", "0001_initial")]
    operations = [migrations.RunPython(add_rules, migrations.RunPython.noop)]
