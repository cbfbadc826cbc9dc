"""Moved to `worker.jobs.steps` (the `then` grammar uses no Celery); kept for imports of the
release before until the branches in flight have moved too."""

from worker.jobs.steps import STEP_KINDS, SYNTAX, Step, parse_step, parse_steps, unknown_message

__all__ = ["STEP_KINDS", "SYNTAX", "Step", "parse_step", "parse_steps", "unknown_message"]
