"""What the roles may do with CRS credit alerts (leadcrm.roles collects it)."""

from leadcrm.roles import LENDING_MANAGER, LOAN_OFFICER

OFFICER = ["view_alert", "view_crsuser", "handle_alert"]
GRANTS = {
    LOAN_OFFICER: OFFICER,
    LENDING_MANAGER: OFFICER
    + [
        "view_alertdelivery",
        "change_crsuser",
        "view_notification",
        "view_notificationrule",
        "add_notificationrule",
        "change_notificationrule",
    ],
}
