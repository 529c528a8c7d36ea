"""The layer rule, checked from the source: data flows HTTP -> service -> storage, one way.

- Only the HTTP layer may import a web framework (flask, werkzeug, flask_smorest, webargs):
  ``api/``, ``app.py``, the access guard and its OpenAPI docs, and the logging set-up.
- No service imports the HTTP layer (``ticketsvc.api`` or ``ticketsvc.app``).
- No import cycles among the service's modules (imports under ``TYPE_CHECKING`` excepted).
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ticketsvc"
FRAMEWORKS = ("flask", "werkzeug", "flask_smorest", "webargs")
HTTP_LAYER = ("ticketsvc.api", "ticketsvc.app", "ticketsvc.auth.guard", "ticketsvc.auth.docs",
              "ticketsvc.logging_setup")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _in(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING":
            for child in ast.walk(node):
                if hasattr(child, "lineno"):
                    lines.add(child.lineno)
    return lines


def _imports(path: Path) -> list[str]:
    """Every module ``path`` imports (absolute names), wherever the import statement is,
    except under ``if TYPE_CHECKING``."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = _type_checking_lines(tree)
    found = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append(target)
            # "from . import x" and "from .pkg import sub" may name submodules
            found += [f"{target}.{alias.name}" for alias in node.names]
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {target for target in _imports(path) if target in modules and target != name}
    return graph


def test_only_the_http_layer_imports_a_web_framework():
    offenders = sorted(
        f"{_module_name(path)} imports {target}"
        for path in PACKAGE.rglob("*.py") if not _in(_module_name(path), HTTP_LAYER)
        for target in _imports(path) if _in(target, FRAMEWORKS))
    assert offenders == []


def test_no_service_imports_the_http_layer():
    # The package itself re-exports create_app: that is the entry point, not a service.
    offenders = sorted(
        f"{_module_name(path)} imports {target}"
        for path in PACKAGE.rglob("*.py")
        if not _in(_module_name(path), HTTP_LAYER) and _module_name(path) != "ticketsvc"
        for target in _imports(path) if _in(target, ("ticketsvc.api", "ticketsvc.app")))
    assert offenders == []


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _without_package_inits(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    # "from .storage import Database" reaches storage/__init__, which only re-exports its
    # own submodules: an edge into a package from inside it is how re-exports work, not a cycle.
    return {node: {t for t in targets if not node.startswith(t + ".")} for node, targets in graph.items()}


def test_there_are_no_import_cycles():
    assert _cycle(_without_package_inits(_graph())) is None


def test_the_checks_see_a_violation_when_there_is_one():
    # The checker itself must be able to fail: a planted cycle and a planted flask import.
    planted = {"ticketsvc.a": {"ticketsvc.b"}, "ticketsvc.b": {"ticketsvc.c"}, "ticketsvc.c": {"ticketsvc.a"}}
    assert _cycle(planted) == ["ticketsvc.a", "ticketsvc.b", "ticketsvc.c", "ticketsvc.a"]
    assert _in("flask.views", FRAMEWORKS) and not _in("flasky", FRAMEWORKS)
    assert not _in("ticketsvc.ingestion.runner", HTTP_LAYER) and _in("ticketsvc.api.tickets", HTTP_LAYER)
