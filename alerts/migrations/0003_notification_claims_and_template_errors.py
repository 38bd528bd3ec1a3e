"""Notifications are claimed before they are sent (claimed_at), and a rule template that fails on
an alert is recorded on its notification (status "template_error"), found by a partial index."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0002_default_notification_rules"),
    ]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="claimed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="notification",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("sending", "Sending"),
                    ("sent", "Sent"),
                    ("failed", "Failed"),
                    ("template_error", "Template error"),
                ],
                default="pending",
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="notificationrule",
            name="body_template",
            field=models.TextField(
                default="{{ type_label }} for {{ user }}{% if lead %} (lead: {{ lead }}){% endif %}.\nReported {{ alert.alert_date|default:alert.time }}{% if alert.alert_source %} by {{ alert.alert_source }}{% endif %}.\n",
                help_text="A Django template over plain values: alert, user, lead, type_label and their fields. {% include %}, {% extends %}, {% load %} and {% debug %} are not available.",
            ),
        ),
        migrations.AlterField(
            model_name="notificationrule",
            name="subject_template",
            field=models.CharField(
                default="Credit alert: {{ type_label }}",
                help_text="A Django template over plain values: alert, user, lead, type_label and their fields. {% include %}, {% extends %}, {% load %} and {% debug %} are not available.",
                max_length=255,
            ),
        ),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("status", "template_error")),
                fields=["rule"],
                name="notification_tpl_error_idx",
            ),
        ),
    ]
