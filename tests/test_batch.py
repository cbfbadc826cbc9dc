"""Batch files: every line is a runnable row or a bad row with a clear reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.batch import BadRow, Journal, Row, parse_line, read_batch


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


def test_plain_and_json_lines_become_rows_with_their_options() -> None:
    plain = parse_line(1, "  a lighthouse  ", then=["upsample2"], mode="turbo")
    rich = parse_line(2, '{"prompt": "a fox", "then": ["upsample1"], "account": "acct-1",'
                         ' "id": 9}', then=["upsample2"], mode=None)
    assert plain == Row(1, "a lighthouse", ["upsample2"], {"mode": "turbo"})
    assert rich == Row(2, "a fox", ["upsample1"], {"account": "acct-1"}, "9")


def test_blank_lines_and_comments_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "batch.txt"
    path.write_text("# header\n\na cat\n   \n{\"prompt\": \"a dog\"}\n")
    rows = read_batch(path, then=[])
    assert [r.line for r in rows] == [3, 5]


def test_the_journal_survives_a_line_cut_short_by_a_crash(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "out.jsonl")
    journal.record_send(1, {"task": "mj.imagine"}, "f1", ["a1", "f1"])
    journal.record_result({"line": 1, "status": "SUCCESS"})
    with journal.out.open("a") as fh:
        fh.write('{"line": 2, "sta')
    assert set(journal.finished()) == {1}
    assert journal.sent()[1]["ids"] == ["a1", "f1"]
