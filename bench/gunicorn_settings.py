"""gunicorn's settings for `bench/compare.py`, the same for the project's webhook and the bare
baselines: 2 sync workers and no access log (the project's gunicorn.conf.py logs each request).
The address is given on the command line."""

workers = 2
worker_class = "sync"
accesslog = None
loglevel = "warning"
timeout = 120  # a 10,000-item CRS batch is answered in one request
