"""What the admin's front page shows of CRF leads (leadcrm.worklist asks every app's
`worklist`): an officer's day, and for managers the team and the unassigned leads."""

from django.conf import settings
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.timesince import timesince

from leadcrm.worklist import Cell, Panel

from .ownership import worklist


def panels(request) -> list[Panel]:
    user = request.user
    if not user.has_perm("leads.view_lead"):
        return []
    now = timezone.now()
    day = worklist.officer_day(user, now)
    lists = reverse("admin:leads_lead_changelist")
    target = settings.LEAD_FIRST_CONTACT_HOURS
    found = [
        _leads(
            "new",
            "New leads assigned to you",
            day.new,
            day.new_count,
            f"{lists}?officer=me&contact=untouched",
            now,
            "No new leads waiting for you.",
        ),
        _leads(
            "overdue",
            f"First contact overdue (over {target} h)",
            day.overdue,
            day.overdue_count,
            f"{lists}?officer=me&contact=overdue",
            now,
            "No overdue first contacts. 🎉",
        ),
        _leads(
            "due",
            "Follow-ups due today",
            day.due,
            day.due_count,
            f"{lists}?officer=me&follow_up=due",
            now,
            "No follow-ups due today.",
            when=lambda lead: formats.date_format(
                timezone.localtime(lead.next_action_at), "SHORT_DATETIME_FORMAT"
            ),
        ),
    ]
    if user.has_perm("leads.reassign_lead"):
        found.append(_team(lists))
        leads, count = worklist.unassigned(now)
        found.append(
            _leads(
                "unassigned",
                "Unassigned leads",
                leads,
                count,
                f"{lists}?officer=none",
                now,
                "Every open lead has an officer.",
            )
        )
    return found


def _leads(key, title, leads, count, more_url, now, empty, when=None) -> Panel:
    return Panel(
        key=key,
        title=title,
        columns=["Lead", "Status", "Product", "Waiting" if when is None else "Due"],
        rows=[
            [
                Cell(str(lead), reverse("admin:leads_lead_change", args=[lead.pk])),
                Cell(lead.status),
                Cell(str(lead.matched_product or "—")),
                Cell(when(lead) if when else _age(lead, now)),
            ]
            for lead in leads
        ],
        count=count,
        cap=worklist.COUNT_CAP,
        more_url=more_url,
        empty=empty,
    )


def _age(lead, now) -> str:
    return timesince(lead.date_created, now) if lead.date_created else "—"


def _team(lists: str) -> Panel:
    rows = []
    for row in worklist.cached_team():
        officer = f"{lists}?officer={row.officer_id}"
        rows.append(
            [
                Cell(row.name, officer),
                Cell(str(row.open_leads)),
                Cell(_percent(row.contacted_within_target)),
                Cell(
                    "—"
                    if row.median_hours_to_contact is None
                    else f"{row.median_hours_to_contact:.1f} h"
                ),
                Cell(str(row.funded_this_month), f"{officer}&status__exact=Funded"),
            ]
        )
    return Panel(
        key="team",
        title=f"Your team (speed to lead: leads of the last {worklist.TEAM_DAYS} days;"
        f" updated every {worklist.TEAM_CACHE_SECONDS // 60} minutes)",
        columns=[
            "Officer",
            "Open leads",
            f"Contacted within {settings.LEAD_FIRST_CONTACT_HOURS} h",
            "Median time to first contact",
            "Funded this month",
        ],
        rows=rows,
        empty="No officer has leads yet.",
    )


def _percent(share) -> str:
    return "—" if share is None else f"{share:.0%}"
