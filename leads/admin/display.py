"""What the lead admin's pages share: values shown as CRF sent them and in words a person would
write, escaped blocks, links to deliveries and leads, list cells that fit, and the two truths of
a lead's status (CRF's and the lender's disposition with its write-back)."""

import functools
import json
from decimal import Decimal

from django.contrib import admin
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.text import capfirst

from leadcrm.admin import problem_list  # noqa: F401 (the lead pages import it from here)
from leads.choices import STATUS_COLOURS, WITHHELD_FROM, Confirmation, WriteBack, fraud_band
from leads.intake import crf
from leads.models import Disposition, Lead, LeadDelivery

EMPTY = "-"  # the admin's own empty-value display


# The lead page's labels where the field's own name would read wrong ("Fico score").
LABELS = {
    "id": "CRF lead id",
    "submission_id": "CRF submission id",
    "duplicate_id": "CRF duplicate id",
    "status": "Status at CRF",
    "state": "State at CRF",
    "date_created": "Created at CRF",
    "lead_owner": "Lead owner at CRF",
    "email": "Email",
    "phone": "Phone",
    "preferred_contact_method": "Preferred contact method",
    "preferred_contact_time": "Preferred contact time",
    "how_did_you_hear": "How they heard of us",
    "ownership_demographic_types": "Ownership demographics",
    "name_of_business": "Business name",
    "num_employees": "Employees",
    "revenue_last_year": "Revenue last year",
    "revenue_projected": "Revenue projected",
    "net_profit": "Net profit",
    "requested_amount": "Requested amount",
    "use_of_proceeds": "Use of proceeds",
    "finance_needed_by": "Finance needed by",
    "has_business_plan": "Has a business plan",
    "collateral_types": "Collateral",
    "disqualified_reason": "Disqualified because",
    "withdrawn_reason": "Withdrawn because",
    "other_reason_text": "Reason in words",
    "fico_score": "FICO score",
    "prior_bankruptcies": "Prior bankruptcies",
    "fraud_score": "Fraud score",
    "ip_address": "IP address",
    "address_line1": "Address",
    "address_line2": "Address (line 2)",
    "address_city": "City",
    "address_state": "State",
    "address_zip": "ZIP code",
    "address_county": "County",
    "census_tract": "Census tract",
    "cra_eligible_tract": "CRA-eligible tract",
    "is_cdfi_investment_area": "CDFI investment area",
    "funded_amount": "Funded amount",
    "funded_interest_rate": "Interest rate",
    "funded_apr": "APR",
    "funded_term_months": "Term",
    "funded_amortization_months": "Amortization",
    "funded_date": "Funded on",
    "will_receive_technical_assistance": "Will receive technical assistance",
    "technical_assistance_options": "Technical assistance",
    "first_seen_at": "First received",
    "updated_at": "Last changed here",
}
MONEY = {"requested_amount", "net_profit", "funded_amount"}
PERCENT = {"funded_interest_rate", "funded_apr"}
MONTHS = {"funded_term_months", "funded_amortization_months"}


def money(value) -> str:
    return EMPTY if value is None else f"${Decimal(str(value)):,.2f}"


def number(value: Decimal) -> str:
    return f"{value.normalize():f}"  # 7.2500 → 7.25, 12.00 → 12


def when(moment) -> str:
    if moment is None:
        return EMPTY
    return formats.date_format(timezone.template_localtime(moment), "Y-m-d H:i")


def _shown(lead: Lead, name: str):
    value = getattr(lead, name)
    if value is None or value == "":
        return EMPTY
    if isinstance(value, list):
        labels = dict(crf.LIST_CHOICES[name].choices)
        return ", ".join(labels.get(item, item) for item in value) or EMPTY
    if name in _CHOICES:
        # The admin's own display shows "-" for a value outside a field's choices, which would
        # hide exactly the values CRF added after our lookups were written.
        return getattr(lead, f"get_{name}_display")()
    if name in MONEY:
        return money(value)
    if name in PERCENT:
        return f"{number(value)}%"
    if name in MONTHS:
        return f"{number(value)} months"
    if name == "fraud_score":
        return fraud_words(value)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if hasattr(value, "tzinfo"):
        return when(value)
    return str(value)


@functools.cache
def as_sent(name: str):
    """A Lead field under a label a person would write, its value formatted (money, percent,
    months), an enum or list by its labels, and by the value as sent when CRF sent one we do not
    know."""
    field = Lead._meta.get_field(name)
    label = LABELS.get(name) or capfirst(field.verbose_name)

    @admin.display(description=label, ordering=name)
    def show(lead: Lead) -> str:
        return _shown(lead, name)

    show.__name__ = name  # keeps the page's CSS class: field-<name>
    return show


_CHOICES = {field.name for field in Lead._meta.fields if field.choices}
_VALUES = {field.name for field in Lead._meta.fields if not field.is_relation}


def fields_as_sent(*names: str) -> list:
    """CRF's values through `as_sent`; related rows (the admin links them) and the page's own
    displays as they are."""
    return [as_sent(name) if name in _VALUES else name for name in names]


def fraud_words(score: Decimal | None) -> str:
    if score is None:
        return EMPTY
    band = fraud_band(score)
    withheld = " (withheld from matching)" if score >= WITHHELD_FROM else ""
    if band is None:
        return number(score)
    return f"{number(score)}{withheld or f' (band {band.label})'}"


def pre(text: str):
    return format_html("<pre>{}</pre>", text)  # escaped: CRF's bytes are untrusted


def as_json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def delivery_link(delivery_id: int | None):
    if delivery_id is None:
        return EMPTY
    url = reverse("admin:leads_leaddelivery_change", args=[delivery_id])
    return format_html('<a href="{}">#{}</a>', url, delivery_id)


def lead_link(delivery: LeadDelivery):
    if delivery.lead_id is None:
        return EMPTY  # rejected: the body named no lead
    try:
        lead = delivery.lead  # None with select_related when the lead row is not there yet
    except Lead.DoesNotExist:
        lead = None
    if lead is None:
        return f"{delivery.lead_id} (not created yet)"
    url = reverse("admin:leads_lead_change", args=[delivery.lead_id])
    return format_html('<a href="{}">{}</a>', url, lead)


def clipped(value):
    """A list cell of long text: the list's CSS shows at most two lines, the title all of it."""
    text = str(value or "").strip()
    if not text:
        return EMPTY
    return format_html('<span class="clipped" title="{}">{}</span>', text, text)


def badge(text: str, colour: str, *, wrap: bool = False):
    return format_html(
        '<span style="color:#fff;background:{};padding:1px 6px;border-radius:8px{}">{}</span>',
        colour,
        "" if wrap else ";white-space:nowrap",
        text,
    )


# --- The two truths: CRF's status and the lender's disposition --------------------------------


def write_back(disposition: Disposition) -> str:
    """Where a disposition is on its way to CRF, in words, and what a read-back found when CRF
    showed another status."""
    words = _write_back(disposition)
    found = disposition.crf_status
    if found and found != disposition.status and disposition.checked_at:
        words += f"; read back from CRF: {found} ({when(disposition.checked_at)})"
    return words


def _write_back(disposition: Disposition) -> str:
    state = disposition.state
    if disposition.confirmed_at:
        how = "read back" if disposition.confirmed_by == Confirmation.READ_BACK else "lead update"
        return f"confirmed by CRF ({how}, {when(disposition.confirmed_at)})"
    if state == WriteBack.LOCAL:
        return "not sent to CRF (no CRF key)"
    if state == WriteBack.SENT:
        return "sent to CRF, awaiting confirmation"
    if state == WriteBack.SENDING:
        return "being sent to CRF"
    if state == WriteBack.PENDING:
        if disposition.attempts and disposition.next_attempt_at:
            retry = f"retry at {when(disposition.next_attempt_at)}"
            return f"waiting to be sent ({retry}; last try: {disposition.error})"
        return "waiting to be sent"
    if state == WriteBack.FAILED:
        return f"failed: {disposition.error or 'CRF refused it'}"
    return "superseded by a newer one, never sent"


def our_status(lead: Lead) -> str:
    """The lender's side of a lead's status; "" when staff recorded none. Needs
    `select_related("disposition")` in lists."""
    ours = lead.disposition
    if ours is None:
        return ""
    if _crf_moved_on(lead, ours):
        crf_says = lead.get_status_display() or lead.status
        return f"CRF now says {crf_says}; our last: {ours.get_status_display()}, {write_back(ours)}"
    return f"{ours.get_status_display()} — {write_back(ours)}"


def _crf_moved_on(lead: Lead, ours: Disposition) -> bool:
    """CRF confirmed our disposition, and a lead update since shows another status. (A read-back
    may confirm it before CRF's lead update comes: the status CRF sent earlier is no news.)"""
    if not ours.confirmed_at or not lead.status or lead.status == ours.status:
        return False
    if ours.confirmed_by == Confirmation.READ_BACK:
        return lead.updated_at is not None and lead.updated_at > ours.confirmed_at
    return True


def status_badge(lead: Lead):
    label = lead.get_status_display() or EMPTY
    return badge(label, STATUS_COLOURS.get(lead.status, "#6b7280"))


def two_truths(lead: Lead, *, cell: bool = False):
    """CRF's status as a badge and, beneath it, the lender's disposition with its write-back."""
    ours = our_status(lead)
    if not ours:
        return status_badge(lead)
    kind = "clipped" if cell else "ours"
    return format_html(
        '{}<br><span class="{} disposition-{}" title="{}">{}</span>',
        status_badge(lead),
        kind,
        lead.disposition.state,
        ours,
        ours,
    )
