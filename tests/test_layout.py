"""The package's shape: one import root in the wheel, dependencies that point one way, no
``print`` in library code, and what a fresh install declares."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: repository folder -> the package it installs as
FOLDERS = {"designspace": "designspace", "blocks": "designspace.blocks", "search": "designspace.search",
           "analysis": "designspace.analysis"}


def _modules():
    """(package name of the module, path) of every library and command module."""
    for folder, pkg in FOLDERS.items():
        for p in sorted((ROOT / folder).rglob("*.py")):
            rel = p.relative_to(ROOT / folder).with_suffix("")
            parts = [x for x in rel.parts if x != "__init__"]
            name = ".".join([pkg, *parts])
            if folder == "designspace" and parts and parts[0] in ("blocks", "search", "analysis"):
                continue  # not a mapped folder: never happens, guards the mapping
            yield name, p


def _imports(name: str, path: Path) -> set[str]:
    """Absolute names of the designspace modules a module imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                mod = ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return {m for m in out if m == "designspace" or m.startswith("designspace.")
            or m.split(".")[0] in ("blocks", "search", "analysis")}


def _layer(mod: str) -> str:
    if mod.startswith("designspace.cli") or mod == "designspace.__main__":
        return "cli"
    for sub in ("blocks", "search", "analysis"):
        if mod == f"designspace.{sub}" or mod.startswith(f"designspace.{sub}."):
            return sub
    return "designspace"


#: which layers each layer may import (blocks <- designspace <- search, analysis <- cli)
ALLOWED = {
    "blocks": {"blocks"},
    "designspace": {"designspace", "blocks"},
    "search": {"search", "designspace", "blocks"},
    "analysis": {"analysis", "designspace"},
    "cli": {"cli", "designspace", "search", "analysis", "blocks"},
}


def test_dependencies_point_one_way():
    bad = []
    for name, path in _modules():
        src = _layer(name)
        for imp in _imports(name, path):
            if imp.split(".")[0] in ("blocks", "search", "analysis"):
                bad.append(f"{path.relative_to(ROOT)} imports top-level {imp!r} (use designspace.{imp})")
                continue
            dst = _layer(imp)
            if dst not in ALLOWED[src]:
                bad.append(f"{path.relative_to(ROOT)} ({src}) imports {imp} ({dst})")
            if "commands" in name.split(".") and dst == "cli":
                bad.append(f"{path.relative_to(ROOT)} is a subcommand and imports the CLI package ({imp})")
    assert not bad, "\n".join(bad)


def _module_graph(folder: str) -> dict[str, set[str]]:
    """Module -> the modules of ``folder`` it imports, at module level or inside a function
    (``from pkg import mod`` names the module ``pkg.mod``, not the package)."""
    mods = {name: path for name, path in _modules() if path.is_relative_to(ROOT / folder)}

    def module_of(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        out: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mod = ".".join(base[: len(base) - node.level + 1] + [node.module or ""]).rstrip(".") if node.level \
                    else (node.module or "")
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod for a in node.names]
            else:
                continue
            out.update(m for m in map(module_of, targets) if m and m != name)
        graph[name] = out
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_search_has_no_import_circle_no_long_module_and_no_long_function():
    """The study runtime's shape (issue 29): modules of search/ import each other one way (also
    inside functions), none is over 400 lines, no function over 60."""
    assert _circles(_module_graph("search")) == []
    long_modules, long_functions = [], []
    for name, path in _modules():
        if not path.is_relative_to(ROOT / "search"):
            continue
        text = path.read_text()
        if text.count("\n") > 400:
            long_modules.append(f"{path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60:
                long_functions.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert long_modules == [] and long_functions == [], long_modules + long_functions


def test_the_circle_check_can_fail():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _circles({"a": {"b"}, "b": set()}) == []


def test_the_check_above_can_fail(tmp_path):
    # a blocks module importing designspace is found
    p = tmp_path / "x.py"
    p.write_text("from ..spec import NetSpec\nimport designspace.search.train\n")
    imps = _imports("designspace.blocks.x", p)
    assert "designspace.spec" in imps and "designspace.search.train" in imps
    assert _layer("designspace.spec") not in ALLOWED["blocks"]


def test_no_print_in_library_modules():
    bad = []
    for name, path in _modules():
        if "commands" in name.split(".") or name.startswith("designspace.cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, "print() in library code (use logging.getLogger(__name__)): " + ", ".join(bad)


def test_wheel_installs_one_top_level_package(tmp_path):
    out = tmp_path / "dist"
    r = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
                       capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    (wheel,) = out.glob("designspace-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"designspace"}, top
    for must in ("designspace/blocks/residual.py", "designspace/search/study/worker.py", "designspace/analysis/edf.py",
                 "designspace/kinds/vanilla.py", "designspace/py.typed", "designspace/search/digits.npz",
                 "designspace/cli/__init__.py"):
        assert must in names, must
    # every package of the source tree is in the wheel (a subpackage missing from pyproject's
    # `packages` imports in an editable install and fails in a real one)
    roots = {"designspace": "designspace", "blocks": "designspace/blocks", "search": "designspace/search",
             "analysis": "designspace/analysis"}
    for init in sorted(ROOT.glob("*/**/__init__.py")):
        rel = init.relative_to(ROOT)
        if rel.parts[0] in roots:
            inside = "/".join((roots[rel.parts[0]],) + rel.parts[1:])
            assert inside in names, f"{rel} is not in the wheel: add its package to pyproject.toml's packages"
    assert not any(n.startswith(("tests/", "studies/", "benchmarks/")) for n in names)
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    requires = [l for l in text.splitlines() if l.startswith("Requires-Dist:")]
    core = [l for l in requires if "extra ==" not in l]
    # scikit-learn and optuna-dashboard are not core dependencies; Pillow (image files) is
    assert not any("scikit-learn" in l or "optuna-dashboard" in l or "psycopg" in l for l in core), core
    assert any(l.split()[1].lower().startswith("pillow") for l in core), core
    for extra in ("dashboard", "postgres", "timm", "all", "test"):
        assert f"Provides-Extra: {extra}" in text


def test_installed_package_shadows_nothing(tmp_path):
    # a research folder with its own analysis/ and search/ packages does not break ours
    for name in ("analysis", "search", "blocks"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("raise ImportError('the user\\'s own package')\n")
    code = ("import designspace, designspace.analysis.edf, designspace.search.study.spec, designspace.blocks.layers; "
            "print('ok')")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_py_typed_and_public_fields_documented():
    import inspect

    import designspace
    from designspace import HeadSpec, NetSpec, StageSpec, StemSpec

    assert (Path(designspace.__file__).parent / "py.typed").exists()
    for cls in (NetSpec, StageSpec, StemSpec, HeadSpec):
        src = inspect.getsource(cls)
        lines = src.splitlines()
        for f in cls.__dataclass_fields__:
            i = next(k for k, l in enumerate(lines) if l.strip().startswith(f"{f}:"))
            assert lines[i - 1].strip().startswith("#:"), f"{cls.__name__}.{f} has no #: docstring"
    doc = designspace.sample.__doc__
    for arg in ("flops", "params", "acts", "resolution", "num_classes", "sampler", "dedupe", "max_draws"):
        assert f"{arg}:" in doc, arg


@pytest.mark.parametrize("cmd, extra", [
    (["dashboard", "x.toml"], "dashboard"),
])
def test_missing_extra_names_it(tmp_path, cmd, extra):
    # hide the optional package from a child interpreter: one line naming the extra, exit 2
    code = ("import sys, importlib.abc\n"
            "class Block(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path, target=None):\n"
            "        if name.split('.')[0] in ('optuna_dashboard',): raise ImportError(name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "from designspace.cli import main; sys.exit(main(sys.argv[1:]))\n")
    spec = tmp_path / "x.toml"
    spec.write_text('name = "x"\nspace = "regnetx"\nn_trials = 1\n')
    r = subprocess.run([sys.executable, "-c", code, *cmd[:-1], str(spec)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert f"pip install 'designspace[{extra}]'" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
