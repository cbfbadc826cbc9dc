"""A pipeline's follow-up steps as text: one syntax for `mjw ... --then`, batch rows' `then`,
schedules, the HTTP API's `then` and `tasks.pipeline`.

    upsample2           a button on the previous job (`mj.action`), one of ACTIONS
    KIND[:OPTIONS]      `mj.KIND` after the previous job, for each kind whose spec says how it
                        is spelled as a step (`KindSpec.then`; `STEP_KINDS`: video, ...)

OPTIONS are comma-separated, each `name=value` or a bare value that names its option (the
kind's `Then.bare`: `low` or `high` for motion, `sd` or `hd` for resolution, ...), or a digit
0–3 (index: which picture, or which clip); `batch=1|2|4` needs its name. For example
`video:high`, `video:2,hd,batch=1`. Each step must follow what the step before it made
(`KindSpec.makes`, `Then.needs`). Every mistake is an InvalidRequest that starts with `then:`
and says what is allowed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from worker.ttapi.errors import InvalidRequest
from worker.ttapi.kinds import SPECS, Then, spec_of

#: The kinds spelled `name[:OPTIONS]` (an action is spelled as its button alone).
STEP_KINDS = tuple(k for k, s in SPECS.items() if s.then is not None and not s.then.buttons)
SYNTAX = ", ".join(f"{k}[:OPTIONS]" for k in STEP_KINDS)
#: Each button (upsample2, ...) and the kind it is a step of.
_BUTTONS = {b: s.name for s in SPECS.values() if s.then is not None for b in s.then.buttons}


@dataclass(frozen=True)
class Step:
    """One follow-up: its kind (action, video, ...) and its task's keyword arguments."""

    kind: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str:
        """The task's name (`mj.action`, `mj.video`, ...)."""
        return f"mj.{self.kind}"


def parse_step(text: str) -> Step:
    """One `--then` value as a Step, or InvalidRequest naming what is wrong."""
    name, sep, rest = text.strip().partition(":")
    if name in _BUTTONS and not sep:
        return Step(_BUTTONS[name], {"action": name})
    if name not in STEP_KINDS:
        raise InvalidRequest(unknown_message([text]))
    kwargs: dict[str, Any] = {}
    for option in (o.strip() for o in rest.split(",") if o.strip()) if sep else ():
        key, value = _option(name, option)
        if key in kwargs:
            raise InvalidRequest(f"then: {text!r}: {key} is given twice")
        kwargs[key] = value
    return Step(name, kwargs)


def _then(kind: str) -> Then:
    then = SPECS[kind].then
    assert then is not None, kind
    return then


def _option(kind: str, option: str) -> tuple[str, Any]:
    then = _then(kind)
    key, eq, value = option.partition("=")
    if not eq:
        key, value = then.bare.get(option, "index"), option
    key, value = key.strip(), value.strip()
    if key == "index":
        if value not in ("0", "1", "2", "3"):
            allowed = ", ".join([*then.bare, "0-3", *(f"{k}=" for k in then.choices)])
            raise InvalidRequest(f"then: {kind}: {option!r} is not an option (allowed: {allowed})")
        return key, int(value)
    choices = then.choices.get(key)
    if choices is None:
        names = ", ".join(["index", *then.choices])
        raise InvalidRequest(f"then: {kind}: unknown option {key!r} (options: {names})")
    spelled = {str(c): c for c in choices}  # `batch=2` is the number 2
    if value not in spelled:
        raise InvalidRequest(f"then: {kind}: {key} must be one of {', '.join(spelled)}")
    return key, spelled[value]


def unknown_message(bad: Iterable[str]) -> str:
    """The error for steps that are neither actions nor step kinds."""
    return f"then: unknown action(s) {list(bad)} (valid: {', '.join(_BUTTONS)}; or {SYNTAX})"


def examples_after(kind: str) -> str:
    """Examples of the steps that may follow a job of `kind` (for help texts)."""
    made = spec_of(kind).makes
    then = [s.then for s in SPECS.values() if s.then is not None and made in s.then.needs]
    return ", ".join(t.example for t in then if t.example)


def parse_steps(texts: Iterable[str], first: str | None = "imagine") -> list[Step]:
    """Every step, checked in order: each must follow what the step before it made (after a
    `first` job of that kind; None checks each step alone)."""
    texts = list(texts)
    unknown = [t for t in texts if t.strip().partition(":")[0] not in (*_BUTTONS, *STEP_KINDS)]
    if unknown:
        raise InvalidRequest(unknown_message(unknown))
    steps = [parse_step(t) for t in texts]
    if first is None:
        return steps
    start = spec_of(first)
    if start.makes is None:
        if steps:
            raise InvalidRequest(f"then: a {first} job takes no follow-up steps")
        return steps
    made: str | None = start.makes
    before, grid = start.said_as, start.grid({})
    for text, step in zip(texts, steps, strict=True):
        then, kind = _then(step.kind), SPECS[step.kind]
        if made not in then.needs:
            raise InvalidRequest(
                f"then: {text!r} cannot follow {before}: it needs a finished {then.needs_said} job"
            )
        if then.picks and grid and "index" not in step.kwargs:
            raise InvalidRequest(
                f"then: {text!r} after {before} needs an index: which of its four images "
                f"(0-3), e.g. {step.kind}:0"
            )
        made, before, grid = kind.makes, text, kind.grid(step.kwargs)
    return steps


__all__ = [
    "STEP_KINDS",
    "SYNTAX",
    "Step",
    "examples_after",
    "parse_step",
    "parse_steps",
    "unknown_message",
]
