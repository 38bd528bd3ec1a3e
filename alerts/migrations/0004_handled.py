"""Staff mark alerts handled (who, when, a note), with the permission to, and a partial index for
the alerts nobody has handled yet. The roles get the permission from leadcrm.roles after migrate."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0003_notification_claims_and_template_errors"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="alert",
            options={
                "ordering": ["-time"],
                "permissions": [("handle_alert", "Can mark alerts handled")],
            },
        ),
        migrations.AddField(
            model_name="alert",
            name="handled_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="alert",
            name="handled_by",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="alert",
            name="handled_note",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.AddIndex(
            model_name="alert",
            index=models.Index(
                condition=models.Q(("handled_at", None)),
                fields=["-time"],
                name="alert_unhandled_idx",
            ),
        ),
    ]
