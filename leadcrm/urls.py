from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from .views import healthz

admin.site.site_header = "LeadCRM"
admin.site.site_title = "LeadCRM"
admin.site.index_title = "Workspace"

urlpatterns = [
    # Each partner's webhook, from its app (named by string: the ground floor imports no app).
    path("webhooks/crf/", include("leads.urls")),
    path("webhooks/crs/", include("alerts.urls")),
    path("healthz/", healthz, name="healthz"),
    # Before the admin's own URLs, whose catch-all would answer it with a 404.
    path("admin/dashboard/", include("leads.dashboard.urls")),
    path("admin/", admin.site.urls),
    # The admin is the whole site: a bare address, and the admin's "View site" link, lead to it.
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),
]

handler400 = "leadcrm.errors.bad_request"
handler403 = "leadcrm.errors.permission_denied"
handler404 = "leadcrm.errors.page_not_found"
handler500 = "leadcrm.errors.server_error"
