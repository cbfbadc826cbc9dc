"""A job's life: its record, submit (or park), poll or reconcile, settle, and the pump's repairs.

Celery-free: every step takes a `Runtime` and returns what it wants done as effects
(`worker.jobs.effects`), for the engine or the Celery adapter to carry out.
"""
