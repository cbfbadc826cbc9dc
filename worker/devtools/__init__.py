"""What mj-worker starts for itself in demos and tests: an embedded redis-server, celery
subprocesses and the TTAPI simulator (as `celery.contrib.testing` is for Celery)."""
