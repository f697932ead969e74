"""The house: the product library ``dfdemo`` never imports the lab ``dfdemo_lab``, the UI
(``app.py`` and its package ``webapp/``) nor gradio, and no module of either package imports
itself back through a chain (no import cycles).

The import graph is read from the files on disk with ``ast`` (every ``import`` and ``from ...
import``, at module level or inside a function), so a new arrow in any file shows here.
"""
from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGES = ("dfdemo", "dfdemo_lab")


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted name → file, for every module of both packages (``pkg/__init__.py`` is ``pkg``)."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = path
    return out


def imports_of(name: str, path: Path) -> set[str]:
    """Every module name ``path`` imports (relative imports resolved against ``name``'s package)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # ``from pkg import module``
    return found


def graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module → the modules of the two packages it imports (a package's own ``__init__`` left out
    for its submodules: importing ``dfdemo.media`` runs ``dfdemo/__init__`` by design)."""
    out = {}
    for name, path in mods.items():
        deps = {d for d in imports_of(name, path) if d in mods and d != name}
        out[name] = {d for d in deps if not name.startswith(d + ".")}
    return out


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles, each as the chain of modules that closes it."""
    state, stack, found = {}, [], []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for d in sorted(g.get(n, ())):
            if state.get(d) == 1:
                found.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[n] = 2

    for n in sorted(g):
        if n not in state:
            visit(n)
    return found


def test_the_graph_is_read_from_the_files():
    """The checker sees real arrows (so the two tests below can fail): the lab imports the library."""
    g = graph(modules())
    assert "dfdemo.analyzer" in g and "dfdemo_lab.train" in g
    assert {"dfdemo.detector", "dfdemo.media", "dfdemo.faces"} <= g["dfdemo.analyzer"]
    assert "dfdemo.detector" in g["dfdemo_lab.train"] and "dfdemo_lab.sbi" in g["dfdemo_lab.train"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_the_library_never_imports_the_lab_or_the_ui():
    def wrong(dep: str) -> bool:
        top = dep.split(".")[0]
        return top in ("dfdemo_lab", "app", "webapp", "gradio")

    found = {name: sorted(d for d in imports_of(name, path) if wrong(d))
             for name, path in modules().items() if name.split(".")[0] == "dfdemo"}
    assert {k: v for k, v in found.items() if v} == {}


def test_no_import_cycles():
    assert cycles(graph(modules())) == []


def test_the_stages_do_not_import_each_other():
    """media, faces, detector and explain never import each other: only the analyzer glues them."""
    g = graph(modules())
    stages = {"dfdemo.media", "dfdemo.faces", "dfdemo.detector", "dfdemo.explain"}
    assert {s: sorted(g[s] & stages) for s in stages if g[s] & stages} == {}


def private_reaches(path: Path) -> list[str]:
    """``obj._name`` where ``obj`` is not the class's own ``self``/``cls``: a reach into another
    object's private state (Gradio's, say), which no release promises to keep."""
    out = []
    for n in ast.walk(ast.parse(path.read_text())):
        if isinstance(n, ast.Attribute) and n.attr.startswith("_") and not n.attr.startswith("__"):
            if not (isinstance(n.value, ast.Name) and n.value.id in ("self", "cls")):
                out.append(f"{path.name}:{n.lineno} {ast.unparse(n)}")
    return out


def test_the_ui_uses_gradio_by_its_public_api_only():
    """No private attribute of another object and no patching of Gradio's functions in the UI
    (issue 26: the next Gradio release must not break uploads silently)."""
    ui = [ROOT / "app.py", *sorted((ROOT / "webapp").glob("*.py"))]
    assert len(ui) > 2
    assert [r for p in ui for r in private_reaches(p)] == []
    patches = [f"{p.name}: {line.strip()}" for p in ui for line in p.read_text().splitlines()
               if "setattr(gr" in line or "monkeypatch" in line or "setattr(gradio" in line]
    assert patches == []


def test_a_reach_into_private_state_is_found(tmp_path):
    code = tmp_path / "ui.py"
    code.write_text("class A:\n    def f(self, demo):\n        self._mine = 1\n        return demo._queue.active_jobs\n")
    assert private_reaches(code) == ["ui.py:4 demo._queue"]
