"""A lead's one timeline, newest first: CRF's status changes, the lender's dispositions with their
write-back to CRF, assignments, logged activities, staff notes, and the credit alerts of the CRS
users linked to the lead.

Six queries whatever the history's length (one per kind, each on its lead index); alerts are
cut to the newest ALERT_LIMIT, since CRS sends them nightly for as long as a person is watched.
"""

from dataclasses import dataclass
from datetime import datetime

from django.apps import apps
from django.urls import reverse

from leads.dispositions.forms import describe
from leads.models import Activity, Disposition, Lead, LeadAssignment, LeadNote, StatusChange

from .display import EMPTY, when, write_back

ALERT_LIMIT = 20
# Within one moment, the order things happen in: CRF's update, then what staff did about it.
_RANK = {"alert": 0, "status": 1, "assignment": 2, "activity": 3, "disposition": 4, "note": 5}


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # status, assignment, activity, disposition, note, alert: its row's CSS class
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
        *_assignments(lead),
        *_activities(lead),
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


def _assignments(lead: Lead) -> list[Entry]:
    rows = LeadAssignment.objects.filter(lead=lead).select_related(
        "from_officer", "to_officer", "by", "rule"
    )
    entries = []
    for change in rows:
        was, now = _name(change.from_officer) or "Nobody", _name(change.to_officer) or "nobody"
        entries.append(
            Entry(
                at=change.at,
                kind="assignment",
                heading=_assigned_by(change),
                text=f"{was} → {now}",
                order=change.pk,
            )
        )
    return entries


def _assigned_by(change: LeadAssignment) -> str:
    if change.rule_id:
        return f"Routed by rule “{change.rule}”"
    return f"Assigned by {change.by}" if change.by_id else "Assigned automatically"


def _activities(lead: Lead) -> list[Entry]:
    rows = Activity.objects.filter(lead=lead).select_related("author")
    entries = []
    for activity in rows:
        text = activity.get_outcome_display()
        if activity.note:
            text += f"\n{activity.note}"
        if activity.next_action_at:
            text += f"\nNext action: {when(activity.next_action_at)}"
        entries.append(
            Entry(
                at=activity.at,
                kind="activity",
                heading=f"{activity.get_kind_display()} by {activity.author or '(deleted user)'}",
                text=text,
                order=activity.pk,
            )
        )
    return entries


def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else ""


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
