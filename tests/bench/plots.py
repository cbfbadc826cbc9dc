"""PNG plots of a benchmark (matplotlib, Agg backend): slots in use over time, hand-off CDFs.

matplotlib comes with the `bench` extra (`pip install -e '.[bench]'`); it is imported only when
a plot is drawn, so nothing else in tests/bench needs it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.bench import analysis

Jobs = Sequence[Mapping[str, Any]]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def slots_plot(
    path: Path,
    title: str,
    runs: Mapping[str, Jobs],
    cap: int,
    *,
    held: int = 0,
    releases: Mapping[str, Sequence[tuple[float, int]]] | None = None,
) -> Path:
    """One panel per run: slots in use per account over the simulator's clock.

    The dashed line is the account's cap; with another client on the account, a dotted line
    shows the places left to us until the simulator saw it let go.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(len(runs), 1, figsize=(9, 2.3 * len(runs) + 0.6), sharex=True)
    axes = [axes] if len(runs) == 1 else list(axes)
    for ax, (run, jobs) in zip(axes, runs.items(), strict=True):
        groups = analysis.by_account(jobs)
        for i, group in enumerate(groups.values()):
            series = analysis.slots_series(group)
            xs, ys = zip(*series, strict=True)
            label = f"account {i + 1}" if len(groups) > 1 else "in use"
            ax.step(xs, ys, where="post", linewidth=1.0, label=label)
        ax.axhline(cap, color="grey", linestyle="--", linewidth=0.8, label=f"cap {cap}")
        for until, _ in (releases or {}).get(run, []):
            ax.hlines(
                cap - held, 0, until, colors="red", linestyles=":", label="cap − other client"
            )
        ax.set_ylim(0, cap + 2)
        ax.set_ylabel("slots in use")
        ax.set_title(run, fontsize=10, loc="left")
        ax.legend(loc="lower right", fontsize=7, ncol=3)
    axes[-1].set_xlabel("seconds since the first job was sent (simulator clock)")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def handoff_plot(path: Path, panels: Mapping[str, Mapping[str, Sequence[float]]]) -> Path:
    """CDFs of hand-off latency (ms, log scale): one panel per scenario, one line per run."""
    plt = _pyplot()
    from matplotlib import ticker

    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, (title, runs) in zip(axes[0], panels.items(), strict=True):
        for run, gaps in runs.items():
            ms = sorted(max(1000 * g, 0.1) for g in gaps)
            if not ms:
                continue
            ys = [(i + 1) / len(ms) for i in range(len(ms))]
            ax.step(ms, ys, where="post", label=f"{run} (n={len(ms)})")
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlabel("slot freed → next submit (ms)")
        ax.set_ylim(0, 1.02)
        ax.set_title(title, fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    axes[0][0].set_ylabel("share of hand-offs")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
