"""What the roles may do with CRF leads (leadcrm.roles collects it)."""

from leadcrm.roles import LENDING_MANAGER, LOAN_OFFICER

OFFICER = [
    "view_lead",
    "assign_lead",
    "export_lead",
    "view_partner",
    "view_product",
    "view_productset",
    "view_statuschange",
    "view_leadnote",
    "add_leadnote",
    "view_disposition",
    "add_disposition",
]
GRANTS = {
    LOAN_OFFICER: OFFICER,
    LENDING_MANAGER: OFFICER
    + [
        "view_demographics",
        "view_leaddelivery",
        "change_leaddelivery",
        "view_exportlog",
        "view_pullrun",
        "view_pulledblob",
        "change_disposition",
        "resend_disposition",
    ],
}
