"""Batch files and their journal: every line is a runnable row or a bad row with a clear reason,
and the journal pairs results with the content of a line, not just its number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from worker.cli.batch import BadRow, Row, content_key, parse_line, read_batch, unknown_actions
from worker.cli.batch_journal import Journal
from worker.ttapi.requests import ACTIONS


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"prompt": "a cat", "mode": "warp"}', "mode"),
        ('{"prompt": 3}', "prompt: a string is required"),
        ('{"prompt": "a cat", "colour": "red"}', "unknown keys ['colour']"),
        ('{"prompt": "a cat", "then": "upsample1"}', "then: must be a list"),
        ('{"prompt": "a cat", "then": ["upsample9"]}', "unknown action(s) ['upsample9']"),
        ('{"prompt": "a cat",', "not valid JSON"),
        ('{"prompt": "a cat", "timeout": 10}', "timeout"),
    ],
)
def test_a_bad_line_is_reported_with_its_line_number_and_reason(text: str, says: str) -> None:
    row = parse_line(7, text, then=[], mode=None)
    assert isinstance(row, BadRow)
    assert row.error.startswith("line 7: ")
    assert says in row.error


def test_an_unknown_action_is_named_with_the_list_of_valid_ones() -> None:
    row = parse_line(1, "a cat", then=["explode"], mode=None)
    assert isinstance(row, BadRow)
    assert row.error == (
        f"line 1: then: unknown action(s) ['explode'] (valid: {', '.join(ACTIONS)}; "
        "or video[:OPTIONS], video_extend[:OPTIONS])"
    )
    assert unknown_actions(["upsample1", "reroll"]) is None


def test_plain_and_json_lines_become_rows_with_their_options() -> None:
    plain = parse_line(1, "  a lighthouse  ", then=["upsample2"], mode="turbo")
    rich = parse_line(
        2,
        '{"prompt": "a fox", "then": ["upsample1"], "account": "acct-1", "id": 9}',
        then=["upsample2"],
        mode=None,
    )
    assert plain == Row(1, "a lighthouse", ["upsample2"], {"mode": "turbo"})
    assert rich == Row(2, "a fox", ["upsample1"], {"account": "acct-1"}, "9")


def test_blank_lines_and_comments_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "batch.txt"
    path.write_text('# header\n\na cat\n   \n{"prompt": "a dog"}\n')
    rows = read_batch(path, then=[])
    assert [r.line for r in rows] == [3, 5]


@pytest.mark.parametrize(
    ("other", "same"),
    [
        (Row(3, "a cat", ["upsample1"], {"mode": "fast"}), True),
        (Row(3, "a cat", ["upsample1"], {"mode": "fast"}, row_id="label"), True),
        (Row(4, "a cat", ["upsample1"], {"mode": "fast"}), False),
        (Row(3, "a dog", ["upsample1"], {"mode": "fast"}), False),
        (Row(3, "a cat", ["upsample2"], {"mode": "fast"}), False),
        (Row(3, "a cat", ["upsample1"], {"mode": "relax"}), False),
        (Row(3, "a cat", ["upsample1"], {"mode": "fast", "account": "acct-2"}), False),
    ],
)
def test_a_row_key_holds_its_line_and_everything_it_sends(other: Row, same: bool) -> None:
    row = Row(3, "a cat", ["upsample1"], {"mode": "fast"})
    assert (row.key == other.key) is same
    assert row.key.startswith("3:")


def sent_and_done(journal: Journal, row: Row, final: str, status: str = "SUCCESS") -> None:
    journal.record_send(row, {"task": "mj.imagine"}, final, ["a-" + final, final])
    journal.record_result(
        {"line": row.line, "key": row.key, "prompt": row.prompt, "task_id": final, "status": status}
    )


def test_the_journal_survives_a_line_cut_short_by_a_crash(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "out.jsonl")
    one, two = Row(1, "a cat"), Row(2, "a dog")
    sent_and_done(journal, one, "f1")
    journal.record_send(two, {"task": "mj.imagine"}, "f2", ["f2"])
    with journal.out.open("a") as fh:
        fh.write('{"line": 2, "sta')
    view = journal.load()
    assert view.find(one)[1] is not None
    send, result = view.find(two)
    assert result is None and send is not None and send["ids"] == ["f2"]


def test_an_edited_line_is_a_new_row_whose_old_results_are_not_paired_with_it(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path / "out.jsonl")
    sent_and_done(journal, Row(1, "a cat"), "f1")
    assert journal.load().find(Row(1, "a lion")) == (None, None)
    assert journal.load().find(Row(1, "a cat", ["upsample1"])) == (None, None)


def test_a_row_sent_again_after_its_failure_is_in_flight_not_failed(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "out.jsonl")
    row = Row(1, "a cat")
    sent_and_done(journal, row, "f1", status="FAILED")
    journal.record_send(row, {"task": "mj.imagine"}, "f2", ["f2"])
    send, result = journal.load().find(row)
    assert send is not None and send["final"] == "f2"
    assert result is None


def test_a_journal_written_before_row_keys_resumes_only_unchanged_prompts(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    sig = {
        "task": "celery.chain",
        "kwargs": {
            "tasks": [{"task": "mj.imagine", "kwargs": {"prompt": "a dog"}}, {"task": "mj.action"}]
        },
    }
    lines = [
        {
            "line": 1,
            "final": "f1",
            "ids": ["f1"],
            "sig": {"task": "mj.imagine", "kwargs": {"prompt": "a cat"}},
        },
        {"line": 2, "final": "f2", "ids": ["a2", "f2"], "sig": sig},
    ]
    (tmp_path / "out.jsonl.journal").write_text("".join(json.dumps(x) + "\n" for x in lines))
    out.write_text(
        json.dumps({"line": 1, "prompt": "a cat", "task_id": "f1", "status": "SUCCESS"}) + "\n"
    )
    view = Journal(out).load()
    assert view.find(Row(1, "a cat"))[1] is not None  # finished
    assert view.find(Row(2, "a dog", ["upsample1"]))[0] is not None  # in flight
    assert view.find(Row(1, "a lion")) == (None, None)
    assert view.find(Row(2, "a wolf")) == (None, None)


URL = "https://cdn.example.com/frame.png"


def test_json_lines_may_start_a_video_or_an_edit_with_their_options() -> None:
    video = parse_line(
        3,
        json.dumps(
            {"kind": "video", "image": URL, "prompt": "waves", "motion": "high", "batch": 2}
        ),
        then=["video_extend:1"],
        mode="turbo",
    )
    edit = parse_line(
        4,
        json.dumps({"kind": "edit", "image": URL, "prompt": "in bronze", "type": "retexture"}),
        then=["video:2"],
        mode="relax",
    )
    assert video == Row(
        3,
        "waves",
        ["video_extend:1"],
        {"image": URL, "motion": "high", "batch": 2},
        kind="video",
    )
    assert edit == Row(
        4,
        "in bronze",
        ["video:2"],
        {"image": URL, "type": "retexture", "mode": "relax"},
        None,
        "edit",
    )
    assert video.first == {"prompt": "waves", "image": URL, "motion": "high", "batch": 2}
    assert video.key != Row(3, "waves", ["video_extend:1"], dict(video.options)).key


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"kind": "gif", "prompt": "p"}, "kind: must be one of imagine, video, edit"),
        ({"kind": "video", "prompt": "p"}, "image: Field required"),
        ({"kind": "video", "prompt": "p", "image": URL, "batch": 3}, "batch: must be 1, 2 or 4"),
        ({"kind": "video", "prompt": "p", "image": URL, "mode": "fast"}, "keys ['mode'] are not"),
        ({"prompt": "p", "image": URL}, "keys ['image'] are not options of imagine rows"),
        ({"kind": "edit", "prompt": "p", "image": "x.gif"}, "image: must be an http(s) URL"),
        ({"kind": "edit", "prompt": "p", "image": URL, "then": ["upsample1"]}, "cannot follow"),
        ({"prompt": "p", "then": ["video"]}, "'video' after imagine needs an index"),
        ({"kind": "video", "prompt": "p", "image": URL, "then": ["video:0"]}, "cannot follow"),
    ],
)
def test_a_bad_video_or_edit_row_says_why(data: dict[str, object], says: str) -> None:
    row = parse_line(5, json.dumps(data), then=[], mode=None)
    assert isinstance(row, BadRow) and says in row.error, row


def test_an_imagine_rows_key_is_what_it_was_before_rows_had_kinds() -> None:
    row = Row(2, "a fox", ["upsample1"], {"mode": "fast"})
    content = {"prompt": "a fox", "then": ["upsample1"], "options": {"mode": "fast"}}
    assert row.key == content_key(2, content)


def test_a_batch_asks_for_its_callers_priority_and_tenant_and_a_row_may_name_its_own(
    tmp_path: Path,
) -> None:
    path = tmp_path / "b.txt"
    path.write_text('a cat\n{"prompt": "a dog", "priority": "high", "tenant": "web"}\n')
    cat, dog = read_batch(path, then=[], caller={"priority": "low", "tenant": "nightly"})
    assert isinstance(cat, Row) and isinstance(dog, Row)
    assert cat.first == {"prompt": "a cat", "priority": "low", "tenant": "nightly"}
    assert dog.first == {"prompt": "a dog", "priority": "high", "tenant": "web"}


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('{"prompt": "x", "priority": "asap"}', "priority: must be one of high, normal, low"),
        ('{"prompt": "x", "tenant": "a b"}', "tenant: 'a b' is not a tenant name"),
    ],
)
def test_a_row_with_a_bad_caller_is_a_bad_row(line: str, says: str) -> None:
    row = parse_line(3, line, then=[], mode=None)
    assert isinstance(row, BadRow) and says in row.error


def test_who_asks_is_not_part_of_a_rows_key_so_a_journal_from_before_callers_still_matches() -> (
    None
):
    plain = parse_line(1, "a cat", then=[], mode=None)
    low = parse_line(1, "a cat", then=[], mode=None, caller={"priority": "low", "tenant": "t"})
    assert isinstance(plain, Row) and isinstance(low, Row)
    assert plain.key == low.key and plain.first != low.first
