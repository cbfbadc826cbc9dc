"""`mjw video` and `mjw edit`: their input is checked (and a local image read) before Redis."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from worker import cli
from worker.cli.errors import UsageError
from worker.cli.inline import image_argument
from worker.devtools.embedded import free_port

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_an_image_argument_is_a_url_a_data_uri_or_a_local_file_sent_inline(
    tmp_path: Path,
) -> None:
    url, uri = "https://cdn.example.com/a.png", "data:image/png;base64,iVBORw0KGgo="
    assert image_argument(url) == url and image_argument(uri) == uri
    path = tmp_path / "Cat.JPG"
    path.write_bytes(b"\xff\xd8\xff" + b"1" * 10)
    inline = image_argument(str(path))
    assert inline.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(inline.partition(",")[2]) == path.read_bytes()


@pytest.mark.parametrize(
    ("name", "says"),
    [("cat.gif", "is not a URL, a data URI or a .png"), ("missing.png", "file not found")],
)
def test_an_image_argument_that_is_no_image_file_is_a_usage_error(
    tmp_path: Path, name: str, says: str
) -> None:
    if name.endswith(".gif"):
        (tmp_path / name).write_bytes(b"GIF89a")
    with pytest.raises(UsageError, match=says):
        image_argument(str(tmp_path / name))


@pytest.fixture
def no_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point REDIS_URL at a port nobody listens on: a test passing here never reached Redis."""
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (
            ["video", "https://x/y.png", "--prompt", "waves", "--then", "upsample1"],
            "mjw video: then: 'upsample1' cannot follow video: it needs a finished imagine",
        ),
        (
            ["video", "data:image/png;base64,iVBORw0KGgo=", "--prompt", "waves"],
            "mjw video: invalid request: image: must be a public http(s) URL",
        ),
        (
            ["edit", "https://x/y.png", "--prompt", "a hat", "--then", "video"],
            "mjw edit: then: 'video' after edit needs an index",
        ),
        (
            ["submit", "a fox", "--then", "video_extend"],
            "mjw submit: then: 'video_extend' cannot follow imagine",
        ),
    ],
)
def test_a_video_or_edit_that_cannot_run_is_refused_before_redis(
    no_redis: None, argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(says) and len(err.strip().splitlines()) == 1, err


def test_a_local_image_over_the_inline_limit_is_refused_before_redis(
    no_redis: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MJ_INLINE_IMAGE_MAX_BYTES", "2048")
    path = tmp_path / "big.png"
    path.write_bytes(PNG + b"\x00" * 4096)
    assert cli.main(["edit", str(path), "--prompt", "a hat", "--retexture"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mjw edit: invalid request: image: the image is 4,")
    assert "MJ_INLINE_IMAGE_MAX_BYTES" in err
