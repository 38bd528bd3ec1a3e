"""The Django side of the worker comparison in `bench/compare.py`, run in its own process with
the scratch database's settings in the environment:

    backlog.py store N   store N new-lead deliveries through `receive_lead`, then leave them
                         pending and unqueued (as after a broker outage)
    backlog.py queue     queue them for the workers: `queue_due_leads()`, the sweep's own call
    backlog.py loop      process them here: `process_lead` for each lead, in receipt order
"""

import json
import os
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadcrm.settings")

import django  # noqa: E402

django.setup()

from leads.choices import DeliveryOutcome  # noqa: E402
from leads.intake import services  # noqa: E402
from leads.models import LeadDelivery  # noqa: E402

SAMPLE = json.loads((ROOT / "leads" / "samples" / "crf_lead.json").read_text())


def store(count: int) -> None:
    """Store through the webhook's own service. Its publishes go to a broker no worker reads; the
    caller empties that queue, and the claims are given back here, which is what the intake does
    when the broker refuses a publish (`_release`): pending and unclaimed, due for the sweep."""
    for _ in range(count):
        body = json.dumps({**SAMPLE, "id": str(uuid.uuid4())}).encode()
        services.receive_lead(body, headers={"Content-Type": "application/json"})
    LeadDelivery.objects.update(queued_at=None)


def queue() -> None:
    services.queue_due_leads()


def loop() -> None:
    pending = LeadDelivery.objects.filter(outcome=DeliveryOutcome.PENDING).order_by("id")
    for lead_id in dict.fromkeys(pending.values_list("lead_id", flat=True)):
        services.process_lead(lead_id)


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "store":
        store(int(sys.argv[2]))
    elif command == "queue":
        queue()
    elif command == "loop":
        loop()
    else:
        sys.exit(__doc__)
