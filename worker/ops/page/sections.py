"""The sections of the operator page, each rendered from the overview document."""

from __future__ import annotations

from typing import Any

from worker.jobs.record import RecordState
from worker.ops.accounts import limit_of
from worker.ops.page.fmt import at, badge, caller, clip, esc, seconds, short, table

Doc = dict[str, Any]


def health(doc: Doc) -> str:
    """The verdict and its reasons."""
    status = doc["status"]
    reasons = "".join(f"<li>{esc(r)}</li>" for r in doc["reasons"])
    note = f'<ul class="reasons">{reasons}</ul>' if reasons else ""
    return f'<div class="verdict {esc(status)}">{badge(status, _tone(status))}{note}</div>'


def accounts(doc: Doc) -> str:
    """Per account: a bar of slots in use against the effective limit and the cap."""
    rows = []
    for a in doc["accounts"]:
        limit = limit_of(a)
        meter = (
            f'<meter min="0" max="{a["cap"]}" high="{max(0, limit - 0.5)}" optimum="0" '
            f'value="{a["in_use"]}" title="{a["in_use"]} in use of {a["cap"]}"></meter>'
        )
        slots = f"{a['in_use']} / {a['cap']}"
        if a["effective_cap"] is not None:
            slots = (
                f"{a['in_use']} / {a['effective_cap']} of {a['cap']} (another client uses the key)"
            )
        rotation = (
            badge("in rotation", "ok")
            if a["in_rotation"]
            else badge("out", "bad") + " " + esc(a["disabled_reason"])
        )
        balance = "—" if a["balance"] is None else f"{a['balance']:,.2f}"
        rows.append(
            [
                f'<code class="account">{esc(a["account"])}</code>',
                f'{meter} <span class="slots">{esc(slots)}</span>',
                str(a["waiting"]),
                _count(a["recent_429"]),
                _count(a["recent_499"]),
                esc(balance),
                rotation,
                esc(a["owner"]) or '<span class="dim">—</span>',
            ]
        )
    head = ["account", "slots in use", "waiting", "429 (5 min)", "499 (5 min)"]
    return table([*head, "balance", "rotation", "owner"], rows, "no account known yet")


def tenants(doc: Doc) -> str:
    """Per tenant: its weight and caps, in progress, waiting, its share of the recent slot-time,
    today's jobs against daily_jobs, and jobs ended."""
    rows = []
    for t in doc.get("tenants", []):
        cap = t["max_in_progress"]
        today = "—" if t["daily_jobs"] is None else f"{t['today']} / {t['daily_jobs']}"
        share = "—" if t["share"] is None else f"{t['share']:.0%}"
        ended = t["ended"]
        name = esc(t["tenant"]) + ("" if t["configured"] else " " + badge("old", "dim"))
        rows.append(
            [
                f"<code>{name}</code>",
                f"{t['weight']:g}",
                f"{t['in_progress']}" + ("" if cap is None else f" / {cap}"),
                str(t["waiting"]),
                share,
                esc(today),
                f"{ended['success']} ok · {ended['failed']} failed · {ended['revoked']} revoked",
            ]
        )
    head = ["tenant", "weight", "in progress", "waiting", "recent share", "today", "ended"]
    return table(head, rows, "no tenant yet")


def liveness(doc: Doc) -> str:
    """Queue depths with the workers consuming each, the workers, and the pump's last run."""
    queues = table(
        ["queue", "messages", "workers online"],
        [
            [
                f"<code>{esc(q['queue'])}</code>",
                str(q["messages"]),
                _workers(q["workers"], q["messages"]),
            ]
            for q in doc["queues"]
        ],
        "no queue",
    )
    workers = table(
        ["worker", "queues", "heartbeat", "up since"],
        [
            [
                f"<code>{esc(w['hostname'])}</code>",
                esc(", ".join(w["queues"])),
                at(w["at"]) + ("" if w["online"] else " " + badge("gone", "bad")),
                at(w["since"]),
            ]
            for w in doc["workers"]
        ],
        "no worker has sent a heartbeat",
    )
    pump = doc["pump"]
    late = badge("late", "bad") if pump["late"] else ""
    ran = at(pump["last_run"]) if pump["last_run"] else "no round recorded"
    line = f"<p>The pump last ran {ran} {late} (every {pump['interval_s']:g} s).</p>"
    return f'<div class="cols"><div>{queues}{line}</div><div>{workers}</div></div>'


def active(doc: Doc) -> str:
    """Jobs holding a slot, with TTAPI progress."""
    rows = [
        [
            short(j["job_id"]),
            f'<code class="account">{esc(j["account"])}</code>',
            caller(j),
            esc(j["action"]),
            clip(j["prompt"], 60),
            f'<progress max="100" value="{j["progress"]}"></progress> {j["progress"]} %',
            esc(j["state"]),
            at(j["submitted_at"] or j["created_at"]),
        ]
        for j in doc["jobs"]["active"]
    ]
    head = ["job", "account", "tenant", "step", "prompt", "progress", "state", "since"]
    return table(head, rows, "no job in flight")


def waiting(doc: Doc) -> str:
    """Parked jobs with their place in their account's line."""
    rows = [
        [
            str(j["position"]),
            short(j["job_id"]),
            f'<code class="account">{esc(j["account"])}</code>',
            caller(j),
            esc(j["action"]),
            clip(j["prompt"], 60),
            at(j["waiting_since"] or j["created_at"]),
        ]
        for j in doc["jobs"]["waiting"]
    ]
    head = ["#", "job", "account", "tenant", "step", "prompt", "waiting since"]
    return table(head, rows, "none waiting")


def results(doc: Doc) -> str:
    """Recent results as cards with a thumbnail of each final image (a video job's first clip,
    muted and looping)."""
    cards = []
    for j in doc["jobs"]["recent"]:
        if j["state"] != RecordState.SUCCESS:
            continue
        cards.append(
            f'<figure class="card" data-job="{esc(j["job_id"])}">{_thumb(j)}<figcaption>'
            f"{clip(j['prompt'], 48)}<br>{esc(j['action'])} · "
            f'<code class="account">{esc(j["account"])}</code> · {seconds(j["duration_s"])}'
            f"<br>{at(j['finished_at'])}</figcaption></figure>"
        )
    if not cards:
        return '<p class="empty">no result yet</p>'
    return f'<div class="cards">{"".join(cards)}</div>'


def _thumb(j: dict[str, Any]) -> str:
    """The card's picture, linked to the file: the first clip of a video, else the image."""
    clip_url = j["videos"][0] if j.get("videos") else ""
    image = j["image_url"] or (j["images"][0] if j["images"] else "")
    if j.get("thumbnail"):  # the stored thumbnail, linked to the stored file
        stored = j.get("stored") or {}
        target = (
            stored.get("image_url") or (stored.get("images") or stored.get("videos") or [""])[0]
        )
        thumb, alt = esc(j["thumbnail"]), esc(j["prompt"])
        inner = f'<img class="thumb" loading="lazy" src="{thumb}" alt="{alt}">'
        href = esc(str(target or j["thumbnail"]))
        return f'<a href="{href}" target="_blank" rel="noreferrer noopener">{inner}</a>'
    if clip_url:
        poster = f' poster="{esc(image)}"' if image else ""
        inner = (
            f'<video class="thumb" src="{esc(clip_url)}"{poster} muted loop autoplay playsinline '
            f'preload="metadata" aria-label="{esc(j["prompt"])}"></video>'
        )
    elif image:
        inner = f'<img class="thumb" loading="lazy" src="{esc(image)}" alt="{esc(j["prompt"])}">'
    else:
        return '<div class="thumb none">no image</div>'
    href = esc(clip_url or image)
    return f'<a href="{href}" target="_blank" rel="noreferrer noopener">{inner}</a>'


def failures(doc: Doc) -> str:
    """Recent failures and revokes, with TTAPI's words."""
    rows = [
        [
            short(j["job_id"]),
            f'<code class="account">{esc(j["account"])}</code>',
            esc(j["action"]),
            badge(j["state"], "bad"),
            f'<span class="error">{esc(j["error"]) or "—"}</span>',
            at(j["finished_at"]),
        ]
        for j in doc["jobs"]["failed"]
    ]
    return table(["job", "account", "step", "state", "why", "when"], rows, "no failure")


def _count(n: int) -> str:
    return badge(str(n), "warn") if n else "0"


def _workers(n: int, messages: int) -> str:
    if n:
        return str(n)
    return badge("none", "bad" if messages else "dim")


def _tone(status: str) -> str:
    return {"ok": "ok", "degraded": "warn"}.get(status, "bad")


SECTIONS = (
    ("accounts", "Accounts", accounts),
    ("tenants", "Tenants", tenants),
    ("liveness", "Queues, workers, pump", liveness),
    ("active", "In flight", active),
    ("waiting", "Waiting", waiting),
    ("results", "Recent results", results),
    ("failures", "Recent failures", failures),
)
