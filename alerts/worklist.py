"""What the admin's front page shows of CRS alerts (leadcrm.worklist): the recent alerts of the
people linked to the officer's leads."""

from datetime import timedelta

from django.urls import reverse
from django.utils import formats, timezone

from leadcrm.worklist import Cell, Panel

from .models import Alert

DAYS = 7
SHOWN = 10


def panels(request) -> list[Panel]:
    user = request.user
    if not user.has_perm("alerts.view_alert"):
        return []
    since = timezone.now() - timedelta(days=DAYS)
    # Through alert_user_time_idx: the officer's leads' CRS users, their alerts newest first.
    alerts = (
        Alert.objects.filter(user__lead__assigned_officer=user, time__gte=since)
        .select_related("user__lead")
        .order_by("-time")
    )
    rows = [
        [
            Cell(alert.get_type_display() or alert.type or "Alert", _change("alert", alert.pk)),
            Cell(
                str(alert.user.lead), reverse("admin:leads_lead_change", args=[alert.user.lead_id])
            ),
            Cell(formats.date_format(timezone.localtime(alert.time), "SHORT_DATETIME_FORMAT")),
        ]
        for alert in alerts[:SHOWN]
    ]
    return [
        Panel(
            key="alerts",
            title=f"Credit alerts on your leads (last {DAYS} days)",
            columns=["Alert", "Lead", "When"],
            rows=rows,
            empty="No credit alerts on your leads this week.",
        )
    ]


def _change(model: str, pk) -> str:
    return reverse(f"admin:alerts_{model}_change", args=[pk])
