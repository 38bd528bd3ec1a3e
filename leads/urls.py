from django.urls import path

from .intake.views import CRFLeadWebhookView

urlpatterns = [path("leads/", CRFLeadWebhookView.as_view(), name="crf-leads-webhook")]
