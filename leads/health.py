"""What /healthz/ shows of CRF leads (leadcrm.views asks every app's `health`)."""

from .intake.services import delivery_backlog
from .pull.runs import health_warnings


def report() -> dict:
    """The delivery backlog, and the Azure sources' warnings (a refused or expiring SAS URL, a
    failed last pull)."""
    return {"lead_deliveries": delivery_backlog(), "warnings": health_warnings()}
