"""What a download failure means for the task: worth another try later, or final.

TRANSIENT_ERRORS   5xx, 429, network trouble, a truncated body: Celery re-publishes the task
anything else      final: other 4xx (a CDN's 403/404 will not heal), ImageTooLarge,
                   InvalidRequest (unsafe job id or directory, no image in the result)
"""

from __future__ import annotations

from worker.ttapi import errors

#: The default of MJ_DOWNLOAD_MAX_BYTES: far above any Midjourney image, far below a full disk.
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
#: What `mj.download` lets Celery retry (with backoff); every other error is final.
TRANSIENT_ERRORS: tuple[type[errors.TTAPIError], ...] = (
    errors.RequestError,
    errors.ServerError,
    errors.RateLimited,
)


class ImageTooLarge(errors.TTAPIError):
    """The image is bigger than MJ_DOWNLOAD_MAX_BYTES; final (the same URL stays too big)."""
