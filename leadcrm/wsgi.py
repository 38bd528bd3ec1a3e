import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadcrm.settings")
application = get_wsgi_application()

from leadcrm.enqueue import publish_in_background  # noqa: E402 (needs the settings)

publish_in_background()
