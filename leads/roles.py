"""The two roles of the workspace, as groups (see the README's roles table).

Loan officer: sees leads, partners, products and alerts; assigns, writes notes, exports. Never
deletes, never sees raw deliveries or ownership demographics (the fair-lending firewall).
Lending manager: all of that, plus demographics, raw deliveries and reprocessing, the export log,
notification rules and the Azure pull runs.
"""

LOAN_OFFICER = "Loan officer"
LENDING_MANAGER = "Lending manager"

OFFICER = [
    ("leads", "view_lead"), ("leads", "assign_lead"), ("leads", "export_lead"),
    ("leads", "view_partner"), ("leads", "view_product"), ("leads", "view_productset"),
    ("leads", "view_statuschange"), ("leads", "view_leadnote"), ("leads", "add_leadnote"),
    ("alerts", "view_alert"), ("alerts", "view_crsuser"),
]
MANAGER = OFFICER + [
    ("leads", "view_demographics"), ("leads", "view_leaddelivery"), ("leads", "change_leaddelivery"),
    ("leads", "view_exportlog"), ("leads", "view_pullrun"), ("leads", "view_pulledblob"),
    ("alerts", "view_alertdelivery"), ("alerts", "change_crsuser"), ("alerts", "view_notification"),
    ("alerts", "view_notificationrule"), ("alerts", "add_notificationrule"),
    ("alerts", "change_notificationrule"),
]

ROLES = {LOAN_OFFICER: OFFICER, LENDING_MANAGER: MANAGER}


def ensure_roles(group_model, permission_model) -> None:
    """Create the groups with their permissions (which must exist). Takes the models so that the
    data migration can pass its historical ones."""
    for name, wanted in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        for app_label, codename in wanted:
            group.permissions.add(
                permission_model.objects.get(content_type__app_label=app_label, codename=codename)
            )
