"""lithops-core's modules talk through public names, and do not import each other in a cycle.

Both rules are checked on the source with ``ast``:

* a module may not import a private name (``from lithops.x import _y``) of another module, nor
  read or write an attribute ``obj._name`` that only another lithops-core module defines
  (``self._name = ...``, a ``_name`` method, class attribute or slot there, not here);
* the graph of imports between lithops-core modules, lazy ones and ``TYPE_CHECKING`` ones
  included, has no cycle.

``KNOWN_PRIVATE`` and ``KNOWN_CYCLES`` are empty: nothing is left to fix, and the test fails on
anything new (an entry that is fixed but still listed fails too, so the lists only shrink).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "lithops-core" / "src" / "lithops"

#: (module, private name) pairs not fixed yet.
KNOWN_PRIVATE: set[tuple[str, str]] = set()

#: Import cycles not broken yet, each as the sorted modules of one strongly connected part.
KNOWN_CYCLES: set[tuple[str, ...]] = set()


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}


def _imported(
    module: str, node: ast.Import | ast.ImportFrom, modules: dict[str, Path]
) -> Iterator[str]:
    """The lithops-core modules an import statement loads."""
    if isinstance(node, ast.Import):
        yield from (a.name for a in node.names if a.name in modules)
        return
    base = node.module or ""
    if node.level:
        package = module.split(".")
        if modules[module].name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join([*package, base] if base else package)
    for alias in node.names:
        if f"{base}.{alias.name}" in modules:
            yield f"{base}.{alias.name}"
        elif base in modules:
            yield base


def _defined_privates(tree: ast.Module) -> set[str]:
    """Private names a module defines: functions, classes, globals, class attributes,
    ``__slots__`` entries, and ``self._x``/``cls._x`` assignments."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id in ("self", "cls")
        ):
            names.add(node.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets
        ):
            names.update(
                c.value
                for c in ast.walk(node.value)
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            )
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def private_uses(trees: dict[str, ast.Module] = TREES) -> set[tuple[str, str]]:
    defined = {name: _defined_privates(tree) for name, tree in trees.items()}
    anywhere = set().union(*defined.values())
    found = set()
    for module, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        found.add((module, alias.name))
            elif (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
                and node.attr not in defined[module]
                and node.attr in anywhere  # another lithops-core module's (not os._exit)
            ):
                found.add((module, node.attr))
    return found


def import_cycles(
    trees: dict[str, ast.Module] = TREES, modules: dict[str, Path] = MODULES
) -> set[tuple[str, ...]]:
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for module, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                graph[module].update(m for m in _imported(module, node, modules) if m != module)
    # Tarjan's strongly connected components, iteratively.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = set()
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                part = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    part.append(member)
                    if member == node:
                        break
                if len(part) > 1:
                    cycles.add(tuple(sorted(part)))
    return cycles


def test_no_module_uses_another_modules_private_names() -> None:
    found = private_uses()
    assert found - KNOWN_PRIVATE == set(), "private names used across modules"
    assert KNOWN_PRIVATE - found == set(), "fixed: remove these from KNOWN_PRIVATE"


def test_no_import_cycles_between_modules() -> None:
    found = import_cycles()
    assert found - KNOWN_CYCLES == set(), "import cycles (lazy and TYPE_CHECKING included)"
    assert KNOWN_CYCLES - found == set(), "fixed: remove these from KNOWN_CYCLES"


def test_the_checks_see_a_private_access_and_a_cycle() -> None:
    # The checker itself, on three made-up modules: ``low`` reads ``high``'s private state and
    # imports it lazily, under a function, while ``high`` imports ``low`` (through ``mid``).
    sources = {
        "lithops.low": "def f(x):\n    from lithops.high import Thing\n    return x._secret\n",
        "lithops.mid": "from lithops import low\n",
        "lithops.high": "from lithops.mid import low\nclass Thing:\n    _secret = 1\n",
    }
    trees = {name: ast.parse(text) for name, text in sources.items()}
    modules = {name: Path(name.split(".")[-1] + ".py") for name in sources}
    assert private_uses(trees) == {("lithops.low", "_secret")}
    assert import_cycles(trees, modules) == {("lithops.high", "lithops.low", "lithops.mid")}
