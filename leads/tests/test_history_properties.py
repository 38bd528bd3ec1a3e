"""Whatever order the worker applies a lead's deliveries in, the lead ends in the state of the last
one received, and its history lists every change in receipt order."""

import hashlib
import json
import uuid
from datetime import timedelta
from itertools import count

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leads.choices import Status
from leads.intake import services
from leads.models import Lead, LeadDelivery

pytestmark = pytest.mark.django_db

# Explicit delivery ids far above any the sequence hands out, one block per example.
_blocks = count(10**12, 1000)
statuses = st.sampled_from([*Status.values, "OnHold"])


def expected_history(received: list[str], first_id: int) -> list[tuple[str, str, int]]:
    changes, previous = [], ""
    for offset, status in enumerate(received):
        if status != previous:
            changes.append((previous, status, first_id + offset))
        previous = status
    return changes


def store(first_id: int, index: int, lead_id: uuid.UUID, status: str, sample: dict) -> None:
    """A delivery that became visible only now, although it was received `index`-th."""
    body = json.dumps(
        {**sample, "id": str(lead_id), "status": status, "otherReasonText": str(index)}
    )
    LeadDelivery.objects.create(
        id=first_id + index,
        lead_id=lead_id,
        body=body.encode(),
        status=status,
        body_sha256=hashlib.sha256(body.encode()).hexdigest(),
        received_at=timezone.now() - timedelta(hours=1) + timedelta(seconds=index),
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(received=st.lists(statuses, min_size=1, max_size=8), data=st.data())
def test_any_processing_order_ends_in_the_last_received_state(received, data, sample_lead):
    lead_id, first_id = uuid.uuid4(), next(_blocks)
    visible_order = data.draw(st.permutations(range(len(received))), label="visible order")
    process_after = data.draw(
        st.lists(st.booleans(), min_size=len(received), max_size=len(received))
    )

    for index, process_now in zip(visible_order, process_after, strict=True):
        store(first_id, index, lead_id, received[index], sample_lead)
        if process_now:
            services.process_lead(lead_id)
    services.process_lead(lead_id)

    lead = Lead.objects.get(pk=lead_id)
    assert lead.status == received[-1]
    assert lead.other_reason_text == str(len(received) - 1)  # every field, not just the status
    history = list(lead.status_changes.values_list("from_status", "to_status", "delivery_id"))
    assert history == expected_history(received, first_id)
