from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from . import plugins
from .celery import app as celery_app
from .webhooks import MethodNotAllowed, ServiceUnavailable


def healthz(request):
    """200 when the database (and the broker, when one is configured) answers; 503 otherwise.
    Other methods than GET (and HEAD) are a 405 in the JSON error shape, as on every JSON path.

    Warnings (a partner gone quiet, a credential about to expire) need a person, not a restart:
    they turn the status to "warning" but keep the 200, so load balancers leave the node alone.
    """
    if request.method not in ("GET", "HEAD"):
        refusal = MethodNotAllowed("Only GET is allowed here.", headers={"Allow": "GET, HEAD"})
        return refusal.response()
    checks = {"database": _check(_ping_database)}
    checks["broker"] = "in-process" if settings.CELERY_TASK_ALWAYS_EAGER else _check(_ping_broker)
    healthy = "unavailable" not in checks.values()
    body = {"status": "ok" if healthy else "unavailable", **checks, "warnings": []}
    if checks["database"] == "ok":
        for report in _reports():
            body["warnings"] += report.pop("warnings", [])
            body.update(report)
        if body["warnings"] and healthy:
            body["status"] = "warning"
    response = JsonResponse(body, status=200 if healthy else 503)
    if not healthy:  # monitors and load balancers wait as long as a webhook sender is told to
        response["Retry-After"] = str(ServiceUnavailable.retry_after)
    return response


def _reports() -> list[dict]:
    """Each app's own (`<app>/health.py`): its warnings, one line each, and what else it shows."""
    return [module.report() for module in plugins.each("health")]


def _check(ping) -> str:
    try:
        ping()
    except Exception:
        return "unavailable"
    return "ok"


def _ping_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _ping_broker() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
