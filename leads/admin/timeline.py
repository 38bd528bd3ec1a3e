"""A lead's one timeline, newest first: CRF's status changes, the lender's dispositions with their
write-back to CRF, staff notes, and the credit alerts of the CRS users linked to the lead.

Four queries whatever the history's length (one per kind, each on its lead index); alerts are
cut to the newest ALERT_LIMIT, since CRS sends them nightly for as long as a person is watched.
"""

from dataclasses import dataclass
from datetime import datetime

from django.apps import apps
from django.urls import reverse

from leads.dispositions.forms import describe
from leads.models import Disposition, Lead, LeadNote, StatusChange

from .display import EMPTY, write_back

ALERT_LIMIT = 20
# Within one moment, the order things happen in: CRF's update, then what staff did about it.
_RANK = {"alert": 0, "status": 1, "disposition": 2, "note": 3}


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # status, disposition, note, alert: the CSS class of its row
    heading: str  # who or what: "CRF", "Disposition by officer", …
    text: str  # what happened, in words
    outcome: str = ""  # a disposition's write-back
    crf_said: str = ""  # CRF's ProblemDetails, when it refused one
    link: str = ""  # an alert's or a delivery's admin page
    link_text: str = ""
    state: str = ""  # a disposition's write-back state, for its colour
    order: int = 0  # ties within one kind: the row's id

    @property
    def sort_key(self) -> tuple:
        return (self.at, _RANK[self.kind], self.order)


def for_lead(lead: Lead, user) -> list[Entry]:
    entries = [
        *_status_changes(lead, user),
        *_dispositions(lead),
        *_notes(lead),
        *_alerts(lead, user),
    ]
    return sorted(entries, key=lambda entry: entry.sort_key, reverse=True)


def _status_changes(lead: Lead, user) -> list[Entry]:
    may_open = user.has_perm("leads.view_leaddelivery")
    return [
        Entry(
            at=change.changed_at,
            kind="status",
            heading="CRF",
            text=f"Status {change.from_status or '(new lead)'} → {change.to_status}",
            link=reverse("admin:leads_leaddelivery_change", args=[change.delivery_id])
            if may_open
            else "",
            link_text=f"delivery #{change.delivery_id}",
            order=change.delivery_id,
        )
        for change in StatusChange.objects.filter(lead=lead)
    ]


def _dispositions(lead: Lead) -> list[Entry]:
    rows = Disposition.objects.filter(lead=lead).select_related("author")
    return [
        Entry(
            at=disposition.created_at,
            kind="disposition",
            heading=f"Disposition by {disposition.author or '(deleted user)'}"
            + (" (CSV import)" if disposition.source == "import" else ""),
            text=describe(disposition.body),
            outcome=write_back(disposition),
            crf_said=crf_problem(disposition.problem),
            state=disposition.state,
            order=disposition.pk,
        )
        for disposition in rows
    ]


def crf_problem(problem: dict) -> str:
    """CRF's ProblemDetails in words: "Conflict: Lead is closed"."""
    if not problem:
        return ""
    words = [str(problem[key]) for key in ("title", "detail") if problem.get(key)]
    text = ": ".join(words)
    if problem.get("errors"):
        text = f"{text} ({problem['errors']})" if text else str(problem["errors"])
    return text


def _notes(lead: Lead) -> list[Entry]:
    return [
        Entry(
            at=note.created_at,
            kind="note",
            heading=f"Note by {note.author or '(deleted user)'}",
            text=note.text,
            order=note.pk,
        )
        for note in LeadNote.objects.filter(lead=lead).select_related("author")
    ]


def _alerts(lead: Lead, user) -> list[Entry]:
    # By name, not by import: the alerts app builds on leads, never the other way round.
    alert_model = apps.get_model("alerts", "Alert")
    alerts = (alert_model.objects.filter(user__lead=lead).select_related("user").order_by("-time"))[
        :ALERT_LIMIT
    ]
    may_open = user.has_perm("alerts.view_alert")
    return [
        Entry(
            at=alert.time or alert.received_at,
            kind="alert",
            heading=f"CRS alert for {alert.user}",
            text=(alert.get_type_display() or alert.type or EMPTY)
            + (f" from {alert.alert_source}" if alert.alert_source else ""),
            link=reverse("admin:alerts_alert_change", args=[alert.pk]) if may_open else "",
            link_text="the alert",
            order=0,
        )
        for alert in alerts
    ]
