"""Staff-owned work on leads: the notes. CRF never writes them, and processing a lead update never
touches them. (The assigned officer is leads.ownership's.)"""

from .models import Lead, LeadNote


def add_note(lead: Lead, author, text: str) -> LeadNote:
    text = text.strip()
    if not text:
        raise ValueError("A note needs some text.")
    if "\x00" in text:  # PostgreSQL text cannot hold it: refused here, not a 500 there
        raise ValueError("A note cannot contain a NUL character.")
    return LeadNote.objects.create(lead=lead, author=author, text=text)
