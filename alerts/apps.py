from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "CRS credit alerts"

    def ready(self) -> None:
        # Registered in every process, not only in workers (Celery discovers tasks there alone):
        # services queue them by name (alerts.services.NOTIFY_TASK).
        from . import tasks  # noqa: F401
