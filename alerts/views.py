from django.conf import settings
from django.http import JsonResponse

from leadcrm.deliveries import stored_headers
from leadcrm.webhooks import (
    WebhookView,
    database_errors_as_503,
    read_body,
    require_basic_credentials,
)

from . import services


class CRSAlertWebhookView(WebhookView):
    """POST a CRS notification batch (docs/contract.md#7-crs-alert-intake); answered item by item,
    in order."""

    def authenticate(self, request):
        require_basic_credentials(request)

    def post(self, request):
        body = read_body(request, settings.CRS_MAX_BODY_BYTES)
        with database_errors_as_503():
            receipt = services.receive_alerts(body, headers=stored_headers(request.headers))
        if receipt.invalid:
            return JsonResponse(
                {
                    "error": receipt.invalid.code,
                    "detail": receipt.invalid.detail,
                    "delivery": receipt.delivery.pk,
                },
                status=400,
            )
        return JsonResponse(receipt.answers, status=200, safe=False)
