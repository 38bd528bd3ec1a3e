from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from alerts.views import CRSAlertWebhookView
from leads.views import CRFLeadWebhookView
from leads.views_dashboard import dashboard_view

from .views import healthz

admin.site.site_header = "LeadCRM"
admin.site.site_title = "LeadCRM"
admin.site.index_title = "Workspace"

urlpatterns = [
    path("webhooks/crf/leads/", CRFLeadWebhookView.as_view(), name="crf-leads-webhook"),
    path("webhooks/crs/alerts/", CRSAlertWebhookView.as_view(), name="crs-alerts-webhook"),
    path("healthz/", healthz, name="healthz"),
    # Before the admin's own URLs, whose catch-all would answer it with a 404.
    path("admin/dashboard/", admin.site.admin_view(dashboard_view), name="admin-dashboard"),
    path("admin/", admin.site.urls),
    # The admin is the whole site: a bare address, and the admin's "View site" link, lead to it.
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),
]

handler400 = "leadcrm.errors.bad_request"
handler403 = "leadcrm.errors.permission_denied"
handler404 = "leadcrm.errors.page_not_found"
handler500 = "leadcrm.errors.server_error"
