"""The Celery adapter: the one wing of mj-worker that knows Celery and kombu.

The app and its configuration (`app`), the effects of job steps carried out as Celery messages,
states and hints (`dispatch`), pipelines and beat schedules as Celery canvas (`pipelines`,
`schedules`), the worker bootstep that runs the node's engine and that engine's process
(`engine_step`, `engine_process`), and the patches of Celery and kombu internals (`patches`).
The engine and the job steps below it are Celery-free: they return effects
(`worker.jobs.effects`), which `dispatch` carries out.
Importing this package builds nothing; `worker.adapter.app` builds the app.
"""
