"""What a download failure means for the task: worth another try later, or final.

    TTAPIError
    ├── RequestError, ServerError, RateLimited   TRANSIENT_ERRORS: network trouble, a truncated
    │                                            body, 5xx, 429; Celery re-publishes the task
    ├── APIStatusError (other 4xx)               final: a CDN's 403/404 will not heal
    ├── InvalidRequest                           final: unsafe job id or directory, no file
    │                                            in the result, a URL that is not http(s)
    └── DownloadRefused                          final: one of our rules said no
        ├── ImageTooLarge                        over MJ_DOWNLOAD_MAX_BYTES (a video too)
        ├── UnsupportedContent                   neither an image nor an MP4 video
        ├── AddressRefused                       a host that leads to a non-public address
        └── RedirectRefused                      over 5 redirects, to a non-http(s) scheme,
                                                 or a 3xx without a Location

Every message names a URL's host at most for the rules' refusals (a URL's query may carry a
CDN's signature), and each is rebuilt from its message alone, as Celery does.
"""

from __future__ import annotations

from config.settings import default
from worker.ttapi import errors

#: The default of MJ_DOWNLOAD_MAX_BYTES (far above any Midjourney image, far below a full disk).
DEFAULT_MAX_BYTES: int = default("mj_download_max_bytes")
#: What `mj.download` lets Celery retry (with backoff); every other error is final.
TRANSIENT_ERRORS: tuple[type[errors.TTAPIError], ...] = (
    errors.RequestError,
    errors.ServerError,
    errors.RateLimited,
)


class DownloadRefused(errors.TTAPIError):
    """A download one of our rules refused; final (the same URL would be refused again)."""


class ImageTooLarge(DownloadRefused):
    """The image or video is bigger than MJ_DOWNLOAD_MAX_BYTES; final (the URL stays too big)."""


class AddressRefused(DownloadRefused):
    """The URL's host resolves to an address that is not public, and that is not allowed."""


class RedirectRefused(DownloadRefused):
    """A redirect we do not follow: too many, to a scheme other than http(s), or nowhere."""


class UnsupportedContent(DownloadRefused):
    """The server answered with something that is neither an image nor an MP4 video."""
