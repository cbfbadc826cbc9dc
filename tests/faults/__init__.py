"""The fault suite (`make faults`): each scenario runs a whole stack under one fault, one row each.

A scenario starts its own restartable redis-server (append-only, fsync every second), the
simulator and real celery nodes on free loopback ports, sends 40-odd imagines by task name,
breaks something, and reports what the callers saw as one markdown table row (tests/faults/row.py).
"""
