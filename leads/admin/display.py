"""What the lead admin's pages share: values shown as CRF sent them, escaped blocks, links to
deliveries and leads, list cells that fit."""

import functools
import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import capfirst

from leadcrm.admin import problem_list  # noqa: F401 (the lead pages import it from here)
from leads.intake import crf
from leads.models import Lead, LeadDelivery

EMPTY = "-"  # the admin's own empty-value display


@functools.cache
def as_sent(name: str):
    """A Lead enum or list field shown by its labels, and by the value as sent when CRF sent one
    we do not know.

    The admin's own display shows "-" for a value outside a field's choices, which would hide
    exactly the values CRF added after our lookups were written.
    """
    field = Lead._meta.get_field(name)

    @admin.display(description=capfirst(field.verbose_name), ordering=name)
    def show(lead: Lead) -> str:
        value = getattr(lead, name)
        if isinstance(value, list):
            labels = dict(crf.LIST_CHOICES[name].choices)
            return ", ".join(labels.get(item, item) for item in value) or EMPTY
        return getattr(lead, f"get_{name}_display")() or EMPTY

    show.__name__ = name  # keeps the page's CSS class: field-<name>
    return show


_AS_SENT = {field.name for field in Lead._meta.fields if field.choices} | set(crf.LIST_CHOICES)


def fields_as_sent(*names: str) -> list:
    return [as_sent(name) if name in _AS_SENT else name for name in names]


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
