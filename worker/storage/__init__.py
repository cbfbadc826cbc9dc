"""Result storage: a finished job's images and clips copied into S3-compatible storage (or a
folder) before its result is delivered, with stable names, links and thumbnails.

    target   MJ_STORAGE_URL → one obstore store (s3://, gs://, az://, file://), and its links
    names    where a job's files go: <prefix>/<yyyy>/<mm>/<dd>/<TTAPI job id>/<name>
    links    public, presigned (re-signed when read through us) or a path; `fresh` re-signs
    copy     one file streamed from TTAPI's CDN into the store (the download's address rules)
    thumbs   a small WebP per image (Pillow), its CPU measured on its own
    attempt  one try at a job's files, for the engine's storage pool; its end is
             `worker.jobs.storing` (the job's flag, its delivery)
    local    `mj.download` of a stored result: read through the store's client

Layer: above `jobs` (it reads records, uses the download's guarded fetch and ends a job's copy
through `worker.jobs.storing`), below `engine`, which runs it in a pool of its own.
Why obstore: docs/storage.md.
"""
