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
    "view_activity",
    "add_activity",
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
        "reassign_lead",
        "view_routingrule",
        "add_routingrule",
        "change_routingrule",
        "view_leadassignment",
        "change_disposition",
        "resend_disposition",
    ],
}
