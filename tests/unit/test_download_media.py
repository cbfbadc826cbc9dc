"""Videos next to images: `.mp4` files, the same streaming, size limit and checksum."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.support.scripted import Reply, ScriptedServer
from tests.unit.test_download import ChunkedServer
from worker.devtools.simulator.images import png_bytes
from worker.jobs.download import TRANSIENT_ERRORS, ImageTooLarge, download_result
from worker.jobs.download.errors import UnsupportedContent
from worker.jobs.download.media import extension

#: The smallest MP4 a player recognises: an `ftyp` box (isom) and an empty `free` box.
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00\x00\x00\x08free"
PNG = png_bytes("cover")
VIDEO = {"Content-Type": "video/mp4"}
IMAGE = {"Content-Type": "image/png"}


def video_result(server: ScriptedServer, videos: int = 2) -> dict[str, object]:
    """A video job's result: a cover image and `videos` URLs without an extension."""
    return {
        "job_id": "vid-1",
        "image_url": f"{server.url}/cover.png",
        "images": None,
        "videos": [f"{server.url}/video/{n}" for n in range(videos)],
    }


def test_a_video_result_stores_its_cover_and_each_video_as_mp4_with_checksums(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    second = MP4 + b"\x00\x00\x00\x08free"
    scripted.push(
        Reply(200, PNG, headers=IMAGE), Reply(200, MP4, headers=VIDEO), Reply(200, second, VIDEO)
    )
    out = download_result(video_result(scripted), tmp_path, allow_private=True)
    names = [Path(f["path"]).name for f in out["files"]]
    assert names == ["main.png", "video-1.mp4", "video-2.mp4"]
    for entry, body in zip(out["files"], [PNG, MP4, second], strict=True):
        assert Path(entry["path"]).read_bytes() == body
        assert entry["sha256"] == hashlib.sha256(body).hexdigest() and entry["bytes"] == len(body)
    assert out["videos"] == video_result(scripted)["videos"]  # the result passes through
    assert sorted(p.name for p in (tmp_path / "vid-1").iterdir()) == sorted(names)


def test_a_result_with_only_videos_is_downloaded(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.push(Reply(200, MP4, headers=VIDEO))
    result = {**video_result(scripted, videos=1), "image_url": None}
    out = download_result(result, tmp_path, allow_private=True)
    assert [Path(f["path"]).name for f in out["files"]] == ["video-1.mp4"]


def test_a_video_over_the_limit_is_refused_by_its_content_length(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    scripted.push(Reply(200, MP4, headers=VIDEO))
    result = {**video_result(scripted, videos=1), "image_url": None}
    with pytest.raises(ImageTooLarge, match="MJ_DOWNLOAD_MAX_BYTES"):
        download_result(result, tmp_path, allow_private=True, max_bytes=len(MP4) - 1)
    assert list((tmp_path / "vid-1").iterdir()) == []


def test_a_video_without_content_length_is_refused_while_streaming_once_past_the_limit(
    tmp_path: Path,
) -> None:
    server = ChunkedServer(MP4 * 500, chunk=1000, content_type="video/mp4")
    try:
        result = {"job_id": "vid-1", "videos": [server.url]}
        with pytest.raises(ImageTooLarge, match="more than 5000 bytes"):
            download_result(result, tmp_path, allow_private=True, max_bytes=5000)
        assert list((tmp_path / "vid-1").iterdir()) == []
    finally:
        server.stop()


def test_a_rerun_keeps_a_video_already_stored_with_the_announced_size(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    result = {**video_result(scripted, videos=1), "image_url": None}
    scripted.push(Reply(200, MP4, headers=VIDEO), Reply(200, bytes(len(MP4)), headers=VIDEO))
    first = download_result(result, tmp_path, allow_private=True)
    second = download_result(result, tmp_path, allow_private=True)
    assert second["files"] == first["files"]
    assert Path(first["files"][0]["path"]).read_bytes() == MP4


@pytest.mark.parametrize(
    "content_type",
    ["text/html", "application/json", "video/webm", "video/quicktime", "text/plain; charset=x"],
)
def test_a_body_that_is_neither_an_image_nor_an_mp4_is_refused_and_not_stored(
    scripted: ScriptedServer, tmp_path: Path, content_type: str
) -> None:
    scripted.push(Reply(200, "<html>sign in</html>", headers={"Content-Type": content_type}))
    result = {"job_id": "job-1", "image_url": f"{scripted.url}/img/0.png?sig=s3cr3t"}
    with pytest.raises(UnsupportedContent) as info:
        download_result(result, tmp_path, allow_private=True)
    message = str(info.value)
    assert message.startswith("download from 127.0.0.1: Content-Type ")
    assert content_type.split(";")[0] in message and "s3cr3t" not in message
    assert not isinstance(info.value, TRANSIENT_ERRORS)
    assert list((tmp_path / "job-1").iterdir()) == []


def test_a_file_already_stored_is_not_kept_when_the_server_now_answers_with_a_page(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    result = {"job_id": "job-1", "image_url": f"{scripted.url}/img/0.png"}
    scripted.push(
        Reply(200, PNG, headers=IMAGE), Reply(200, PNG, headers={"Content-Type": "text/html"})
    )
    download_result(result, tmp_path, allow_private=True)
    with pytest.raises(UnsupportedContent):
        download_result(result, tmp_path, allow_private=True)


@pytest.mark.parametrize(
    ("url", "content_type", "ext"),
    [
        ("https://cdn.example/a/b.png", "image/jpeg", "png"),
        ("https://cdn.example/a/b.JPEG?x=1", "image/jpeg", "jpg"),
        ("https://cdn.example/a/b", "image/jpeg", "jpg"),
        ("https://cdn.example/a/b", "image/webp; charset=binary", "webp"),
        ("https://cdn.example/a/b.mp4", "image/png", "png"),
        ("https://cdn.example/a/b", "image/x-unheard-of", "png"),
        ("https://cdn.example/a/b", "video/mp4", "mp4"),
        ("https://cdn.example/a/b.png", "video/MP4", "mp4"),
        ("https://cdn.example/a/b.mp4", "application/octet-stream", "mp4"),
        ("https://cdn.example/a/b.webp", None, "webp"),
        ("https://cdn.example/a/b.MP4?x=1", "", "mp4"),
    ],
)
def test_the_extension_comes_from_the_content_type_and_the_url(
    url: str, content_type: str | None, ext: str
) -> None:
    assert extension(url, content_type) == ext


@pytest.mark.parametrize(
    ("url", "content_type"),
    [
        ("https://cdn.example/a/b.php", "text/html"),
        ("https://cdn.example/a/b.png", "text/html"),
        ("https://cdn.example/a/b.mp4", "video/webm"),
        ("https://cdn.example/a/b", None),
        ("https://cdn.example/a/b.exe", "application/octet-stream"),
    ],
)
def test_a_content_type_that_is_neither_an_image_nor_an_mp4_has_no_extension(
    url: str, content_type: str | None
) -> None:
    with pytest.raises(UnsupportedContent, match="neither an image nor an MP4 video"):
        extension(url, content_type)
