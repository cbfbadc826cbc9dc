"""Which FAILED messages from TTAPI are worth one more try (`settle.is_transient`)."""

from __future__ import annotations

import pytest

from worker.jobs.settle import is_transient

# TTAPI's FAILED messages, and whether the job is resubmitted once (True) or fails for good.
FAILED_MESSAGES: list[tuple[str, bool]] = [
    ("Job Timeout", True),
    ("[Internal error] Something went wrong. Please try again later.", True),
    ("[Internal server error] Please try again later.", True),
    ("Execution error, system exception", True),
    ("Failed to process your command", True),
    ("Unknown Integration", True),
    ("  job timeout  ", True),  # case and spacing vary
    ("JOB TIMEOUT", True),
    (
        "[Banned prompt detected] Sorry! Our AI moderator thinks this prompt is probably "
        "against our community standards.",
        False,
    ),
    (
        "[Image denied] Request cancelled due to image filters. Please try a different image "
        "or prompt.",
        False,
    ),
    (
        "[Invalid link!] Sorry! Could not complete the job because one of the image links is "
        "invalid.",
        False,
    ),
    ("[Invalid parameter] Invalid value for argument: `--v`:`8`", False),
]


@pytest.mark.parametrize(
    ("message", "transient"), FAILED_MESSAGES, ids=[m[:32].strip() for m, _ in FAILED_MESSAGES]
)
def test_only_transient_failed_messages_are_worth_one_more_try(
    message: str, transient: bool
) -> None:
    assert is_transient(message) is transient
