from celery import shared_task

from . import services


@shared_task
def notify_alerts(alert_ids: list[str]) -> int:
    return services.notify(alert_ids)


@shared_task
def sweep_alerts() -> int:
    """Queue alerts whose notifications were left undone (lost task, failed send)."""
    alert_ids = services.alerts_due_for_notification()
    services.queue_notifications(alert_ids)
    return len(alert_ids)


@shared_task
def watch_crs_silence() -> bool:
    return services.watch_silence()
