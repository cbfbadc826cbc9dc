"""TTAPI's rules as data: actions, components, modes, costs, durations and failure words."""

from __future__ import annotations

import re

ACTIONS = (
    "upsample1",
    "upsample2",
    "upsample3",
    "upsample4",
    "variation1",
    "variation2",
    "variation3",
    "variation4",
    "high_variation",
    "low_variation",
    "upscale2",
    "upscale4",
    "upscale_creative",
    "upscale_subtle",
    "zoom_out_2",
    "zoom_out_1_5",
    "pan_left",
    "pan_right",
    "pan_up",
    "pan_down",
    "reroll",
)
GRID_COMPONENTS = (
    "upsample1",
    "upsample2",
    "upsample3",
    "upsample4",
    "reroll",
    "variation1",
    "variation2",
    "variation3",
    "variation4",
)
_UPSAMPLE_V6 = (
    "high_variation",
    "low_variation",
    "upscale_creative",
    "upscale_subtle",
    "zoom_out_2",
    "zoom_out_1_5",
    "pan_left",
    "pan_right",
    "pan_up",
    "pan_down",
)
_UPSAMPLE_V5 = tuple(
    {"upscale_creative": "upscale2", "upscale_subtle": "upscale4"}.get(a, a) for a in _UPSAMPLE_V6
)
_GRID_MAKERS = {"imagine", "high_variation", "low_variation", "reroll", "blend", "inpaint"}

MODES = ("fast", "relax", "turbo")
MODE_SPEED = {"fast": 1.0, "turbo": 0.5, "relax": 3.0}
MODE_COST = {"fast": 1.0, "turbo": 2.0, "relax": 0.5}
DIMENSIONS = {"PORTRAIT": (2, 3), "SQUARE": (1, 1), "LANDSCAPE": (3, 2)}

BANNED_WORDS = ("sexy",)
FAILURE_WORDS = {
    "banned": "[Banned prompt detected] Sorry! Our AI moderator thinks this prompt is probably "
    "against our community standards.",
    "denied": "[Image denied] Request cancelled due to image filters. Please try a different "
    "image or prompt.",
    "invalidparam": "[Invalid parameter] Invalid value for argument: `--v`:`8`",
    "internal": "[Internal error] Something went wrong. Please try again later.",
}
FLAKY_WORD = "flaky"
#: Simulator extension: the job runs past its timeout and fails "Job Timeout" at the timeout.
OVERTIME_WORD = "timeout"
JOB_TIMEOUT = "Job Timeout"

_V5 = re.compile(r"--v(?:ersion)?\s+5(?![0-9])", re.IGNORECASE)
_AR = re.compile(r"--ar\s+(\d+)\s*:\s*(\d+)", re.IGNORECASE)


def has_word(text: str, word: str) -> bool:
    """Whether `word` occurs in `text` as a whole word, ignoring case."""
    pattern = rf"(?<![0-9a-z]){re.escape(word)}(?![0-9a-z])"
    return re.search(pattern, text, re.IGNORECASE) is not None


def failure_for(prompt: str) -> str | None:
    """The FAILED message a prompt's failure word leads to, if any."""
    for word, message in FAILURE_WORDS.items():
        if has_word(prompt, word):
            return message
    return None


def components_for(action: str, root_prompt: str) -> list[str]:
    """Follow-up actions a SUCCESS job of `action` offers (Midjourney's buttons)."""
    if action in _GRID_MAKERS or action.startswith(("variation", "zoom_", "pan_")):
        return list(GRID_COMPONENTS)
    if action.startswith("upsample"):
        return list(_UPSAMPLE_V5 if _V5.search(root_prompt) else _UPSAMPLE_V6)
    return []


def duration_factor(action: str) -> float:
    """Duration of `action` relative to an imagine in the same mode."""
    if action.startswith("upsample"):
        return 0.5
    if action in ("describe", "seed"):
        return 0.25
    if action in ("video", "video_extend"):
        return 2.0
    return 1.0


def cost(action: str, mode: str) -> float:
    """Quota charged when a job is created: imagine 2, others 1, times the mode's price."""
    return (2.0 if action == "imagine" else 1.0) * MODE_COST[mode]


def size(action: str, prompt: str, dimensions: str | None) -> tuple[int, int]:
    """Pixel size of the result: 2048 on the long side for grids, 1024 for single images."""
    ratio = DIMENSIONS.get(dimensions or "", (1, 1))
    if match := _AR.search(prompt):
        ratio = (max(int(match.group(1)), 1), max(int(match.group(2)), 1))
    long_side = 2048 if action in _GRID_MAKERS or action.startswith("variation") else 1024
    w, h = ratio
    scale = long_side / max(w, h)
    return round(w * scale), round(h * scale)


def describe_prompts(job_id: str) -> str:
    """Four numbered prompt suggestions, as `/describe` returns them."""
    tag = job_id[:4]
    subjects = ("a lighthouse at dusk", "a cat in a spacesuit", "a misty forest", "a neon city")
    return "\n\n".join(
        f"{n}\ufe0f\u20e3 {subject}, detailed illustration, style {tag} --ar 1:1"
        for n, subject in enumerate(subjects, start=1)
    )
