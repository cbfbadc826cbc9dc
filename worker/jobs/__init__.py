"""A job's life: its record, submit (or park), poll or reconcile, settle, and the pump's repairs.

Celery-free: every step takes a `Runtime` and returns or publishes through its dispatcher.
"""
