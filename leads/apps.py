from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = "CRF leads"

    def ready(self) -> None:
        # The app's Celery tasks live with their concern; Celery's autodiscovery only looks for a
        # `tasks` module at the top of the app.
        from .intake import tasks as intake_tasks  # noqa: F401
        from .pull import tasks as pull_tasks  # noqa: F401
