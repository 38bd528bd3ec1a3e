from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = "CRF leads"

    def ready(self) -> None:
        # Registered in every process, not only in workers: services queue them by name. They live
        # with their concern, where Celery's autodiscovery (a top-level `tasks`) would not look.
        from .dispositions import tasks as disposition_tasks  # noqa: F401
        from .intake import tasks as intake_tasks  # noqa: F401
        from .ownership import tasks as ownership_tasks  # noqa: F401
        from .pull import tasks as pull_tasks  # noqa: F401
