from django.urls import path

from .views import CRSAlertWebhookView

urlpatterns = [path("alerts/", CRSAlertWebhookView.as_view(), name="crs-alerts-webhook")]
