"""Static proof that the core runs on Python 3.9 (3D Slicer 5.6/5.8 embed Python 3.9.10).

Two checks over every core module (everything but ``slicer_ext_manager/ui/``, the PySide6
dialog, which needs 3.10 like the standalone app):

1. ``vermin`` (from PyPI): the standard library and syntax each module needs
   (``match``, ``zip(strict=)``, ``dataclass(slots=)``...) must be available in 3.9;
2. union types ``X | Y`` evaluated at run time (``isinstance(e, A | B)``, a module-level
   alias ``T = int | None``) need 3.10; in annotations they are fine only under
   ``from __future__ import annotations``. vermin does not tell the two apart, so this
   script walks the syntax tree itself.

Usage: ``python scripts/check_py39.py`` (exit 1 and one line per problem).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "slicer_ext_manager"
EXCLUDED = ("ui",)
TYPE_NAMES = {"int", "str", "float", "bytes", "bool", "list", "dict", "tuple", "set", "frozenset", "type", "object"}


def core_files() -> list[Path]:
    return sorted(p for p in CORE.rglob("*.py") if p.relative_to(CORE).parts[0] not in EXCLUDED)


def _class_name(name: str) -> bool:
    """``PermissionError``, ``PathLike`` (not a flag constant like ``R_OK``)."""
    return name[:1].isupper() and not name.isupper()


def _type_like(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return node.value is None
    if isinstance(node, ast.Name):
        return node.id in TYPE_NAMES or _class_name(node.id)
    if isinstance(node, ast.Attribute):
        return _class_name(node.attr)
    if isinstance(node, ast.Subscript):
        return _type_like(node.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _type_like(node.left) and _type_like(node.right)
    return False


class _Unions(ast.NodeVisitor):
    def __init__(self, future: bool):
        self.future = future
        self.found: list[tuple[int, str]] = []

    def _annotation(self, node: ast.AST | None) -> None:
        if node is not None and not self.future:
            for sub in ast.walk(node):
                if isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.BitOr) and _type_like(sub):
                    self.found.append((sub.lineno, "an X | Y annotation without 'from __future__ import annotations'"))
                    return

    def visit_arg(self, node: ast.arg) -> None:
        self._annotation(node.annotation)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._annotation(node.returns)
        for child in (*node.decorator_list, *node.body, node.args):
            self.visit(child)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._annotation(node.annotation)
        if node.value is not None:
            self.visit(node.value)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.BitOr) and _type_like(node):
            self.found.append((node.lineno, "a union type X | Y evaluated at run time"))
            return
        self.generic_visit(node)


def union_problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    future = any(isinstance(n, ast.ImportFrom) and n.module == "__future__" and
                 any(a.name == "annotations" for a in n.names) for n in tree.body)
    visitor = _Unions(future)
    visitor.visit(tree)
    rel = path.relative_to(ROOT)
    return [f"{rel}:{line}: {what} needs Python 3.10" for line, what in visitor.found]


def vermin_problems(files: list[Path]) -> list[str]:
    exe = shutil.which("vermin", path=str(Path(sys.executable).parent)) or shutil.which("vermin")
    if exe is None:
        return ["vermin is not installed (pip install vermin)"]
    proc = subprocess.run([exe, "-t=3.9-", "--no-tips", "--violations",
                           "--backport", "dataclasses", *map(str, files)], capture_output=True, text=True)
    if proc.returncode == 0:
        return []
    lines = [line for line in proc.stdout.splitlines() if line.strip() and not line.startswith(("Detecting", "Analyzing"))]
    return lines or [proc.stderr.strip() or "vermin failed"]


def main() -> int:
    files = core_files()
    problems = [p for f in files for p in union_problems(f)] + vermin_problems(files)
    for problem in problems:
        print(problem)
    if not problems:
        print(f"Python 3.9: {len(files)} core modules checked, none needs a newer Python.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
