"""The morning digest: each officer's day by email, once per officer per day, nothing when there
is nothing (docs/contract.md#17-ownership-and-speed-to-lead)."""

import logging
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from leads.models import DigestSent, Lead

from . import worklist

log = logging.getLogger(__name__)


def recipients():
    """Active staff with an email address who may see leads (a role, or a superuser)."""
    users = get_user_model().objects.filter(is_active=True, is_staff=True).exclude(email="")
    return [user for user in users.order_by("pk") if user.has_perm("leads.view_lead")]


def send_all(now: datetime | None = None) -> int:
    """Send today's digests not sent yet; returns how many went out."""
    now = now or timezone.now()
    sent = 0
    for officer in recipients():
        try:
            sent += send_one(officer, now)
        except Exception:  # a mail server refusing one address must not stop the others
            log.exception(
                "The digest for user %s was not sent; the next run tries again", officer.pk
            )
    return sent


def send_one(officer, now: datetime) -> bool:
    day = worklist.officer_day(officer, now)
    total = day.new_count + day.overdue_count + day.due_count
    if not total:
        return False
    today = timezone.localdate(now)
    try:
        with transaction.atomic():
            # The claim: a second beat, or a rerun, finds it and sends nothing.
            DigestSent.objects.create(officer=officer, day=today, leads=total)
            mail.send_mail(
                f"LeadCRM: your leads for {today:%A %d %B}",
                _body(officer, day),
                None,
                [officer.email],
            )
    except IntegrityError:
        return False
    return True


def _body(officer, day: worklist.Day) -> str:
    lines = [f"Good morning {officer.get_short_name() or officer.get_username()},", ""]
    for title, count, leads in (
        ("New leads assigned to you", day.new_count, day.new),
        (
            f"First contact overdue (over {settings.LEAD_FIRST_CONTACT_HOURS} h)",
            day.overdue_count,
            day.overdue,
        ),
        ("Follow-ups due today", day.due_count, day.due),
    ):
        if not count:
            continue
        shown = f"{worklist.COUNT_CAP}+" if count > worklist.COUNT_CAP else str(count)
        lines += [f"{title}: {shown}"]
        lines += [f"  - {lead}: {_link(lead)}" for lead in leads]
        lines.append("")
    lines.append(f"Your worklist: {settings.SITE_URL}{reverse('admin:index')}")
    return "\n".join(lines)


def _link(lead: Lead) -> str:
    return settings.SITE_URL + reverse("admin:leads_lead_change", args=[lead.pk])
