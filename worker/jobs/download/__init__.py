"""Store a job result's files on disk: `<directory>/<job_id>/main.png`, `1.png` .. `4.png`,
`video-1.mp4` .. (see `media`: images and MP4 videos only).

Where: only under MJ_DOWNLOAD_DIR, the worker operator's choice. A task argument may name a
sub-folder of it, never another place on the worker's disk (`paths.target_directory`).

How (`store`): each file is streamed in chunks into a temp file next to its final name, hashed
(sha256) on the way, and moved into place with `os.replace`, so a reader never sees half a
file and a crash leaves at most a `.part` file behind. A file over the size limit
(MJ_DOWNLOAD_MAX_BYTES) is refused by its Content-Length before any byte is read, and again
while streaming when the server did not announce a size (or lied about it). A file that is
already there with the size the server announces is kept, so re-running a download is cheap.

Whom: a URL's host may lead only to public addresses, checked on the resolved address that
the socket then connects to (`addresses`, `transport`), unless MJ_DOWNLOAD_ALLOW_PRIVATE.
Redirects are followed by hand, at most five, http(s) only, each hop checked again (`fetch`).

Failures (`errors`): nothing here retries or sleeps; what went wrong is sorted so the task can
let Celery re-publish it with a backoff (a sleeping worker process serves no one).

    paths      where files may go        media      which URLs, which extension
    addresses  which hosts may be read   transport  sockets only to checked addresses
    fetch      redirects, bounded        store      stream, hash, rename
    errors     what is worth another try
"""

from worker.jobs.download.addresses import AddressGuard
from worker.jobs.download.errors import (
    DEFAULT_MAX_BYTES,
    TRANSIENT_ERRORS,
    AddressRefused,
    DownloadRefused,
    ImageTooLarge,
    RedirectRefused,
)
from worker.jobs.download.media import extension, media_urls
from worker.jobs.download.paths import safe_job_id, target_directory
from worker.jobs.download.store import download_result

__all__ = [
    "DEFAULT_MAX_BYTES",
    "TRANSIENT_ERRORS",
    "AddressGuard",
    "AddressRefused",
    "DownloadRefused",
    "ImageTooLarge",
    "RedirectRefused",
    "download_result",
    "extension",
    "media_urls",
    "safe_job_id",
    "target_directory",
]
