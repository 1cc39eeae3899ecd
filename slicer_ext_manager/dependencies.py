"""Dependency resolution: which extensions to install, in which order.

Slicer's rule (reference §5.4): ``depends`` is a space-separated list, ``NA`` means
none; a dependency that is not installed must be in the server catalog, else it is
"unresolved"; the dependencies of installed dependencies are followed too. We add
an order (dependencies first) and report cycles by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from .metadata import ExtensionMetadata


@dataclass(frozen=True)
class InstallPlan:
    """What an install request expands to."""

    #: Extensions to install, dependencies before the extensions needing them.
    order: tuple[ExtensionMetadata, ...] = ()
    #: Names the user asked for.
    requested: tuple[str, ...] = ()
    #: Requested names that are already installed (nothing to do).
    already_installed: tuple[str, ...] = ()
    #: Names pulled in only as dependencies.
    dependencies: tuple[str, ...] = ()
    #: Missing dependency -> the extensions that need it.
    unresolved: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Requested names the catalog does not have.
    unknown: tuple[str, ...] = ()
    #: Dependency cycles, each as a list of names (installed anyway, in name order).
    cycles: tuple[tuple[str, ...], ...] = ()

    def depends_on(self, name: str) -> tuple[str, ...]:
        """Names in this plan that ``name`` needs (for skipping it when one fails)."""
        planned = {m.name for m in self.order}
        meta = next((m for m in self.order if m.name == name), None)
        return tuple(d for d in (meta.depends if meta else ()) if d in planned)

    def warnings(self) -> list[str]:
        out = []
        for dep, needed_by in self.unresolved.items():
            for who in needed_by:
                out.append(f"{who} extension depends on the following extensions, which could not be found: {dep}")
        for cycle in self.cycles:
            out.append("These extensions depend on each other (a cycle): " + " → ".join(cycle + cycle[:1]) + ".")
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "order": [m.name for m in self.order],
            "requested": list(self.requested),
            "already_installed": list(self.already_installed),
            "dependencies": list(self.dependencies),
            "unresolved": {k: list(v) for k, v in self.unresolved.items()},
            "unknown": list(self.unknown),
            "cycles": [list(c) for c in self.cycles],
        }


def resolve(
    requested: Iterable[str],
    catalog: Mapping[str, ExtensionMetadata],
    is_installed: Callable[[str], bool],
    *,
    with_dependencies: bool = True,
    extra: Mapping[str, ExtensionMetadata] | None = None,
) -> InstallPlan:
    """Expand ``requested`` names (looked up in ``extra`` first, then ``catalog``)
    into an ordered plan. Installed extensions are not reinstalled, but their
    dependencies are still checked (Slicer follows them too)."""
    extra = dict(extra or {})
    lookup = lambda n: extra.get(n) or catalog.get(n)  # noqa: E731
    requested = list(dict.fromkeys(requested))
    already = [n for n in requested if is_installed(n)]
    unknown = [n for n in requested if n not in already and lookup(n) is None]

    to_install: dict[str, ExtensionMetadata] = {}
    unresolved: dict[str, list[str]] = {}
    seen: set[str] = set()
    queue: list[str] = [n for n in requested if n not in unknown]
    while queue:
        name = queue.pop(0)
        if name in seen:
            continue
        seen.add(name)
        meta = lookup(name)
        if meta is None:
            continue
        if not is_installed(name):
            to_install[name] = meta
        if not with_dependencies:
            continue
        for dep in meta.depends:
            if dep in ("", "NA"):
                continue
            if not is_installed(dep) and lookup(dep) is None:
                unresolved.setdefault(dep, [])
                if name not in unresolved[dep]:
                    unresolved[dep].append(name)
                continue
            queue.append(dep)

    order, cycles = _topological(to_install)
    deps = [n for n in order if n not in requested]
    return InstallPlan(
        order=tuple(to_install[n] for n in order),
        requested=tuple(requested),
        already_installed=tuple(already),
        dependencies=tuple(deps),
        unresolved={k: tuple(v) for k, v in unresolved.items()},
        unknown=tuple(unknown),
        cycles=tuple(tuple(c) for c in cycles),
    )


def _topological(nodes: Mapping[str, ExtensionMetadata]) -> tuple[list[str], list[list[str]]]:
    """Dependencies first; ties in name order so plans are deterministic. Members of a
    cycle are emitted together in name order once nothing outside the cycle blocks them."""
    edges = {n: sorted({d for d in m.depends if d in nodes and d != n}) for n, m in nodes.items()}
    order: list[str] = []
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done
    stack: list[str] = []

    def visit(node: str) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            cycle = stack[stack.index(node):]
            key = sorted(cycle)
            if key not in [sorted(c) for c in cycles]:
                cycles.append(_rotate(cycle))
            return
        state[node] = 1
        stack.append(node)
        for dep in edges[node]:
            visit(dep)
        stack.pop()
        state[node] = 2
        order.append(node)

    for node in sorted(nodes, key=str.lower):
        visit(node)
    return order, cycles


def _rotate(cycle: list[str]) -> list[str]:
    first = min(range(len(cycle)), key=lambda i: cycle[i].lower())
    return cycle[first:] + cycle[:first]
