"""Staff-owned work on leads: the assigned officer and the notes. CRF never writes these, and
processing a lead update never touches them."""

from django.db.models import QuerySet

from .models import Lead, LeadNote


def assign(leads: QuerySet, officer) -> int:
    """Give leads to a loan officer (None: unassign). A single UPDATE: it waits for, and never
    undoes, a lead update being applied (processing locks the row and saves only CRF's fields)."""
    return leads.update(assigned_officer=officer)


def add_note(lead: Lead, author, text: str) -> LeadNote:
    text = text.strip()
    if not text:
        raise ValueError("A note needs some text.")
    if "\x00" in text:  # PostgreSQL text cannot hold it: refused here, not a 500 there
        raise ValueError("A note cannot contain a NUL character.")
    return LeadNote.objects.create(lead=lead, author=author, text=text)
