"""The webhook receiver TTAPI calls back (`receiver`) and `mjw webhook` (`serve`).

`waitress-serve --call worker.webhook:app_from_env` is the Procfile's `web` process.
"""

from worker.webhook.receiver import app_from_env, create_wsgi_app

__all__ = ["app_from_env", "create_wsgi_app"]
