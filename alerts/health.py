"""What /healthz/ shows of CRS alerts (leadcrm.views asks every app's `health`)."""

from .services import health_warnings


def report() -> dict:
    """Warnings only: CRS silent too long, a notification rule whose template fails."""
    return {"warnings": health_warnings()}
