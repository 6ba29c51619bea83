"""Which code made a result: a hash of the method's module and of every maskcl module it imports, directly or
through others, recorded in each result and checkpoint.

A module is hashed by its syntax tree with docstrings removed, so a change to a comment, a docstring or the layout
leaves the fingerprint as it is, and a change to anything that runs does not. `runs.stale` names the results
whose code has changed since; a resumed run refuses (moves aside) a checkpoint made by other code. The explicit
`VERSION` of a method stays: it is the deliberate bump, the fingerprint the safety net for a forgotten one.
"""
from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent  # maskcl/
ROOT = PACKAGE.parent


def _path(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


@lru_cache(maxsize=None)
def module_hash(path: Path) -> str:
    """sha256 of the module's syntax tree without its docstrings (12 hex digits)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:12]


@lru_cache(maxsize=None)
def _imports(module: str, path: Path) -> frozenset[str]:
    """The maskcl modules `module` names in its import statements (anywhere in it)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "maskcl"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                target = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "maskcl":
                continue
            out.add(target)
            out |= {f"{target}.{a.name}" for a in node.names if _path(f"{target}.{a.name}")}
    return frozenset(m for m in out if _path(m))


def modules(*names: str) -> list[str]:
    """These modules and every maskcl module they import, transitively (with the packages that hold them)."""
    todo, seen = list(names), set()
    while todo:
        m = todo.pop()
        if m not in seen and (p := _path(m)):
            seen.add(m)
            parents = {".".join(m.split(".")[:i]) for i in range(1, m.count(".") + 1)}
            todo += sorted((_imports(m, p) | parents) - seen)
    return sorted(seen)


def of(*names: str) -> dict[str, str]:
    """{file relative to the project root: hash} for these modules and everything they run through."""
    return {str(_path(m).relative_to(ROOT)): module_hash(_path(m)) for m in modules(*names)}


def changed(recorded: dict[str, str]) -> list[str]:
    """The files of a recorded fingerprint whose code differs today (or that are gone)."""
    out = []
    for rel, h in sorted(recorded.items()):
        p = ROOT / rel
        if not p.is_file() or module_hash(p) != h:
            out.append(rel)
    return out
