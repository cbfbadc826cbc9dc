"""What mj-worker changes inside Celery and kombu: each module patches one thing, idempotently."""
