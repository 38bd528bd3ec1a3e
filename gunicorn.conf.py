"""gunicorn's settings for production, read from the working directory (the image's /app).

Command-line flags still win, e.g. `gunicorn leadcrm.wsgi --bind 127.0.0.1:9000`.
"""

bind = "0.0.0.0:8000"
workers = 3
accesslog = "-"
# gunicorn's default (the combined log format) with "-" for the remote user, %(u)s: gunicorn
# decodes that from an HTTP Basic header, which is the CRS webhook's username, or its whole
# credential when it has no colon. No request header is logged, so no secret (X-Api-Key) can be.
access_log_format = '%(h)s %(l)s - %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
