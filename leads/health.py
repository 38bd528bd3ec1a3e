"""What /healthz/ shows of CRF leads (leadcrm.views asks every app's `health`)."""

from .dispositions.services import backlog
from .intake.services import delivery_backlog
from .pull.runs import health_warnings


def report() -> dict:
    """The delivery backlog, the write-backs to CRF, and the warnings: the Azure sources' (a
    refused or expiring SAS URL, a failed last pull) and failed write-backs."""
    write_backs = backlog()
    warnings = health_warnings()
    if write_backs["failed"]:
        warnings.append(
            f"{write_backs['failed']} write-back(s) to CRF failed and wait for a manager "
            "(Write-backs to CRF, Needs attention)."
        )
    return {
        "lead_deliveries": delivery_backlog(),
        "crf_write_backs": write_backs,
        "warnings": warnings,
    }
