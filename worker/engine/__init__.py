"""The engine: per node, it holds some of the accounts and drives their jobs between entry and
report — hands their slots out, submits, polls, reconciles — with its TTAPI calls side by side.

Celery messages remain where Celery adds value: a job's entry (its task validates, records
and queues it) and its report (the task runs again once the job ended: its result is stored,
its canvas goes on). Everything in between happens here, in `celery -A worker worker`'s own
engine process (`worker.adapter.engine_step`), on the accounts whose lease the node holds
(`worker.engine.ownership`), told what to do by timers and hints (`worker.jobs.hints`).
"""
