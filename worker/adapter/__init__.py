"""The Celery adapter: the one wing of mj-worker that knows Celery and kombu.

The app and its configuration (`app`), job steps as Celery messages (`dispatch`), pipelines
and beat schedules as Celery canvas (`pipelines`, `schedules`), the worker bootstep that runs
the node's engine and that engine's process (`engine_step`, `engine_process`), and the
patches of Celery and kombu internals (`patches`). The engine and the job steps below it are
Celery-free: they publish through the `Dispatcher` protocol (`worker.jobs.runtime`).
Importing this package builds nothing; `worker.adapter.app` builds the app.
"""
