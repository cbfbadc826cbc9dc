"""The layout guards the design: a Celery-free engine below one Celery adapter, imports that only
ever run downwards, and few flat modules at the top of `worker/`.

Every `import` counts, also inside functions and under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "worker"
MAX_FLAT_MODULES = 8
# Each unit of `worker/` (a package, or a flat module: "base") and its layer; a unit imports
# only units of a lower layer (base modules also each other).
LAYERS: dict[str, float] = {
    "base": 0,  # clock, keys, policy, text: what every layer shares
    "devtools": 0,  # the embedded servers and the simulator: import no other package
    "lua": 0,  # the Lua scripts as package data (once they are files): every layer reads them
    "ttapi": 1,
    "capacity": 2,
    "jobs": 3,
    "storage": 3.5,  # result storage: copies a finished job's files (reads records, downloads)
    "engine": 4,
    "adapter": 5,  # the only wing that knows Celery (besides tasks and the CLI's waiting)
    "ops": 6,
    "webhook": 7,
    "api": 8,  # the HTTP API on web's public side (publishes through the adapter)
    "cli": 9,
}
CELERY = ("celery", "kombu", "billiard")
# Who may import the adapter (the app, its dispatcher, patches, logging): the entry points.
ADAPTER_USERS = {"adapter", "webhook", "api", "cli", "worker/__init__.py"}
CELERY_USERS = {"adapter", "cli"}  # the CLI waits on Celery results; tasks/ is Celery's too


def unit_of(module: str) -> str:
    """The unit a `worker.*` module belongs to."""
    parts = module.split(".")
    if len(parts) > 1 and (WORKER / parts[1]).is_dir():
        return parts[1]
    return "base"


def imports(path: Path) -> Iterator[str]:
    """Every module `path` imports (for `from worker import x`, also `worker.x`)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def sources() -> Iterator[tuple[str, Path]]:
    """Each source file of `worker/` with its unit (`worker/__init__.py` is its own)."""
    for path in sorted(WORKER.rglob("*.py")):
        rel = path.relative_to(WORKER)
        if rel == Path("__init__.py"):
            yield "worker/__init__.py", path
        else:
            yield (rel.parts[0] if len(rel.parts) > 1 else "base"), path


def test_worker_has_at_most_eight_flat_modules() -> None:
    flat = sorted(p.name for p in WORKER.glob("*.py") if p.name != "__init__.py")
    assert len(flat) <= MAX_FLAT_MODULES, flat


def test_every_package_of_worker_has_a_layer() -> None:
    packages = {p.name for p in WORKER.iterdir() if (p / "__init__.py").exists()}
    assert packages <= set(LAYERS), packages - set(LAYERS)


def test_imports_run_only_downwards_across_units() -> None:
    upward = []
    for unit, path in sources():
        if unit == "worker/__init__.py":
            continue
        for module in imports(path):
            if module == "worker" or not module.startswith("worker."):
                continue
            target = unit_of(module)
            if target != unit and LAYERS[target] >= LAYERS[unit] and target != "base":
                upward.append(f"{path.relative_to(ROOT)} imports {module} ({unit} → {target})")
    assert not upward, "\n".join(upward)


def test_the_engine_and_everything_below_it_are_celery_free() -> None:
    found = []
    for unit, path in sources():
        if unit in CELERY_USERS:
            continue
        for module in imports(path):
            if module.split(".")[0] in CELERY:
                found.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not found, "\n".join(found)


def test_only_the_entry_points_import_the_adapter() -> None:
    found = []
    for unit, path in sources():
        if unit in ADAPTER_USERS:
            continue
        for module in imports(path):
            if module == "worker.adapter" or module.startswith("worker.adapter."):
                found.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not found, "\n".join(found)


def test_the_units_import_each_other_without_a_cycle() -> None:
    edges: dict[str, set[str]] = {}
    for unit, path in sources():
        for module in imports(path):
            if module.startswith("worker.") and unit_of(module) != unit:
                edges.setdefault(unit, set()).add(unit_of(module))
    seen: set[str] = set()

    def visit(unit: str, trail: tuple[str, ...]) -> None:
        assert unit not in trail, " → ".join((*trail, unit))
        if unit in seen:
            return
        for target in edges.get(unit, ()):
            visit(target, (*trail, unit))
        seen.add(unit)

    for unit in list(edges):
        visit(unit, ())
