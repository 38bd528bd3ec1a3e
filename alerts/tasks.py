from celery import shared_task

from . import services


@shared_task(name=services.NOTIFY_TASK)
def notify_alerts(alert_ids: list[str]) -> int:
    return services.notify(alert_ids)


@shared_task(name="alerts.tasks.sweep_alerts")  # the beat schedule's names
def sweep_alerts() -> int:
    """Queue alerts whose notifications were left undone (lost task, failed send)."""
    alert_ids = services.alerts_due_for_notification()
    services.queue_notifications(alert_ids)
    return len(alert_ids)


@shared_task(name="alerts.tasks.watch_crs_silence")
def watch_crs_silence() -> bool:
    return services.watch_silence()
