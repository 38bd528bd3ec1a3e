from django.apps import AppConfig
from django.db.models.signals import post_migrate


class LeadcrmConfig(AppConfig):
    name = "leadcrm"
    verbose_name = "LeadCRM"

    def ready(self) -> None:
        from . import roles

        # After every migrate, the role groups hold what the apps' code grants them today.
        post_migrate.connect(roles.after_migrate, dispatch_uid="leadcrm.roles")
