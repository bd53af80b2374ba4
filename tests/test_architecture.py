"""The library's shape, as docs/architecture.md describes it: no import cycle, layers, a stdlib-only hook, sizes."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.paths import SCRIPTS

LIB = SCRIPTS / "lib"

# docs/architecture.md, "Layers: what may import what"
LAYERS: dict[str, set[str]] = {
    "telemetry": {"failures", "security"},  # failures.classify and security.redact only: checked below
    "security": {"core"},  # security.rulegen only (build time): checked below
    "core": {"store"},  # store.yamlio only: checked below
    "store": {"core"},
    "failures": {"core", "security"},
    "vault": {"core", "store", "security"},
    "resume": {"core", "store", "security"},
    "notion": {"core", "store", "security"},
    "adopt": {"core", "store", "security"},
    "recall": {"core", "store", "security"},
    "handoff": {"core", "store", "security", "failures", "telemetry", "vault"},
    "chains": {"core", "store", "security", "failures", "handoff", "telemetry"},  # telemetry.usage only
    "console": {"core", "store", "security", "failures", "telemetry", "vault", "resume", "notion", "adopt",
                "recall", "handoff", "chains"},
}
# Where a package may reach into another only for one module: (importer package, imported package) -> allowed.
NARROW = {
    ("telemetry", "failures"): {"lib.failures.classify"},
    ("telemetry", "security"): {"lib.security.redact", "lib.security.rules"},
    ("core", "store"): {"lib.store.yamlio"},
    ("chains", "telemetry"): {"lib.telemetry.usage"},
}
NARROW_SOURCES = {("security", "core"): {"lib.security.rulegen"}}

# Modules past the limit that are one cohesive thing, and why. The limit is "about 500 lines".
MAX_LINES = 500
LONG_MODULES = {
    "failures/classify.py": "the classifier's ordered rules read best as one list",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SCRIPTS).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(LIB.rglob("*.py"))}


def _imports(path: Path) -> Iterator[tuple[str, int]]:
    """Every `lib` module a file imports, at any depth (lazy imports count: they are still a dependency)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] == "lib":
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                yield (candidate if candidate in MODULES else node.module), node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "lib":
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}:{node.lineno}: relative import; the library imports `lib.` absolutely")


def _packages_run(path: Path) -> set[str]:
    """The packages whose __init__ an import runs first (`from lib.vault import merge` runs lib/vault/__init__.py)."""
    run: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module in MODULES:
            run.add(node.module)
    return run


def _graph() -> dict[str, set[str]]:
    return {name: {m for m, _ in _imports(path) if m in MODULES and m != name} | (_packages_run(path) - {name})
            for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_library_import_graph_has_no_cycle() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (LIB / parts[1]).is_dir()) else None


def test_every_package_is_in_the_layer_table() -> None:
    packages = {p.name for p in LIB.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(LAYERS)


def test_packages_import_only_their_layers() -> None:
    wrong = []
    for name, path in MODULES.items():
        source = _package(name)
        if source is None:
            continue
        for target, line in _imports(path):
            package = _package(target)
            if package is None or package == source:
                continue
            if package not in LAYERS[source]:
                wrong.append(f"{path.relative_to(SCRIPTS)}:{line}: {source} imports {target}")
            elif (source, package) in NARROW and target not in NARROW[(source, package)]:
                wrong.append(f"{path.relative_to(SCRIPTS)}:{line}: {source} may import only "
                             f"{', '.join(sorted(NARROW[(source, package)]))} of {package}")
            elif (source, package) in NARROW_SOURCES and name not in NARROW_SOURCES[(source, package)]:
                wrong.append(f"{path.relative_to(SCRIPTS)}:{line}: only {', '.join(NARROW_SOURCES[(source, package)])}"
                             f" of {source} may import {package}")
    assert wrong == []


STDLIB_ONLY = ["telemetry", "security.redact", "security.redact_json", "security.rules", "failures.classify",
               "core.pyenv"]


@pytest.mark.parametrize("where", STDLIB_ONLY)
def test_what_the_hook_can_load_imports_only_the_standard_library(where: str) -> None:
    base = LIB.joinpath(*where.split("."))
    files = sorted(base.rglob("*.py")) if base.is_dir() else [base.with_suffix(".py")]
    assert files
    foreign = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == "lib":
                    if not any(name == f"lib.{w}" or name.startswith(f"lib.{w}.") for w in STDLIB_ONLY) \
                            and name not in ("lib.failures", "lib.security"):
                        foreign.append(f"{path.relative_to(SCRIPTS)}:{node.lineno}: {name}")
                elif top not in sys.stdlib_module_names and top != "__future__":
                    foreign.append(f"{path.relative_to(SCRIPTS)}:{node.lineno}: {name}")
    assert foreign == []


def test_modules_stay_small_unless_cohesive() -> None:
    long = {}
    for path in sorted(LIB.rglob("*.py")):
        rel = path.relative_to(LIB).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES and rel not in LONG_MODULES:
            long[rel] = lines
    assert long == {}
