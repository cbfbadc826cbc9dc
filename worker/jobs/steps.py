"""A pipeline's follow-up steps as text: one syntax for `mjw ... --then`, batch rows' `then`
and `tasks.pipeline`.

    upsample2                 a button on the previous job (`mj.action`), one of ACTIONS
    video[:OPTIONS]           `mj.video` from the previous job's picture
    video_extend[:OPTIONS]    `mj.video_extend` of the previous (video) job

OPTIONS are comma-separated, each `name=value` or a bare value that names itself: `low` or
`high` (motion), `sd` or `hd` (resolution), `auto` or `manual` (animate, extend only), a digit
0–3 (index: which picture, or which clip). `batch=1|2|4` needs its name. For example
`video:high`, `video:2,hd,batch=1`, `video_extend:0,manual`. Every mistake is an
InvalidRequest that starts with `then:` and says what is allowed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, get_args

from worker.ttapi.errors import InvalidRequest
from worker.ttapi.media_requests import BATCHES, Animate, Motion, Resolution
from worker.ttapi.requests import ACTIONS

STEP_KINDS = ("video", "video_extend")
SYNTAX = "video[:OPTIONS], video_extend[:OPTIONS]"
#: Bare values and the option each one sets, per step kind.
_BARE: dict[str, dict[str, str]] = {
    "video": {"low": "motion", "high": "motion", "sd": "resolution", "hd": "resolution"},
    "video_extend": {"low": "motion", "high": "motion", "auto": "animate", "manual": "animate"},
}
_MOTIONS, _BATCHES = get_args(Motion), tuple(str(b) for b in BATCHES)
_CHOICES: dict[str, dict[str, tuple[str, ...]]] = {  # the values the requests themselves take
    "video": {"motion": _MOTIONS, "resolution": get_args(Resolution), "batch": _BATCHES},
    "video_extend": {"motion": _MOTIONS, "animate": get_args(Animate)},
}
#: What each kind makes, and what a follow-up needs its previous step to have made.
#: (An edit's images have no buttons: only a video may follow it.)
MAKES = {"imagine": "image", "action": "image", "edit": "edit", "video": "video"}
MAKES["video_extend"] = "video"
NEEDS = {"action": ("image",), "video": ("image", "edit"), "video_extend": ("video",)}
_NEEDS_SAID = {"action": "imagine or action", "video": "image", "video_extend": "video"}


@dataclass(frozen=True)
class Step:
    """One follow-up: its kind (action, video, video_extend) and its task's keyword arguments."""

    kind: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str:
        """The task's name (`mj.action`, `mj.video`, ...)."""
        return f"mj.{self.kind}"


def parse_step(text: str) -> Step:
    """One `--then` value as a Step, or InvalidRequest naming what is wrong."""
    name, sep, rest = text.strip().partition(":")
    if name in ACTIONS and not sep:
        return Step("action", {"action": name})
    if name not in STEP_KINDS:
        raise InvalidRequest(unknown_message([text]))
    kwargs: dict[str, Any] = {}
    for option in (o.strip() for o in rest.split(",") if o.strip()) if sep else ():
        key, value = _option(name, option)
        if key in kwargs:
            raise InvalidRequest(f"then: {text!r}: {key} is given twice")
        kwargs[key] = value
    return Step(name, kwargs)


def _option(kind: str, option: str) -> tuple[str, Any]:
    key, eq, value = option.partition("=")
    if not eq:
        key, value = _BARE[kind].get(option, "index"), option
    key, value = key.strip(), value.strip()
    if key == "index":
        if value not in ("0", "1", "2", "3"):
            allowed = ", ".join([*_BARE[kind], "0-3", *(f"{k}=" for k in _CHOICES[kind])])
            raise InvalidRequest(f"then: {kind}: {option!r} is not an option (allowed: {allowed})")
        return key, int(value)
    choices = _CHOICES[kind].get(key)
    if choices is None:
        names = ", ".join(["index", *_CHOICES[kind]])
        raise InvalidRequest(f"then: {kind}: unknown option {key!r} (options: {names})")
    if value not in choices:
        raise InvalidRequest(f"then: {kind}: {key} must be one of {', '.join(choices)}")
    return key, int(value) if key == "batch" else value


def unknown_message(bad: Iterable[str]) -> str:
    """The error for steps that are neither actions nor step kinds."""
    return f"then: unknown action(s) {list(bad)} (valid: {', '.join(ACTIONS)}; or {SYNTAX})"


def parse_steps(texts: Iterable[str], first: str | None = "imagine") -> list[Step]:
    """Every step, checked in order: each must follow what the step before it made (after a
    `first` job of that kind; None checks each step alone)."""
    texts = list(texts)
    unknown = [t for t in texts if t.strip().partition(":")[0] not in (*ACTIONS, *STEP_KINDS)]
    if unknown:
        raise InvalidRequest(unknown_message(unknown))
    steps = [parse_step(t) for t in texts]
    if first is None:
        return steps
    made, before, grid = MAKES[first], first, first in ("imagine", "edit")
    for text, step in zip(texts, steps, strict=True):
        if made not in NEEDS[step.kind]:
            raise InvalidRequest(
                f"then: {text!r} cannot follow {before}: it needs a finished "
                f"{_NEEDS_SAID[step.kind]} job"
            )
        if step.kind == "video" and grid and "index" not in step.kwargs:
            raise InvalidRequest(
                f"then: {text!r} after {before} needs an index: which of its four images "
                "(0-3), e.g. video:0"
            )
        made, before = MAKES[step.kind], text
        grid = step.kind == "action" and not _one_image(str(step.kwargs["action"]))
    return steps


def _one_image(action: str) -> bool:
    """Whether a button makes one image (an upsample or upscale) rather than a grid of four."""
    return action.startswith(("upsample", "upscale"))


__all__ = ["STEP_KINDS", "SYNTAX", "Step", "parse_step", "parse_steps", "unknown_message"]
