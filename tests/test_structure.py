import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "fewshot_core"


def test_core_never_imports_streamlit():
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "streamlit"]
    assert offenders == []


def test_importing_the_core_loads_no_ui_or_heavy_models():
    code = "import sys, fewshot_core.cli, fewshot_core.datasets; print(sorted(m for m in ('streamlit', 'open_clip', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_and_argument_errors_import_no_heavy_library():
    """`--help` and a bad argument answer at once: no torch, open_clip, transformers or streamlit import."""
    code = """
import sys
from fewshot_core.cli import main
codes = [main(argv) for argv in (["--help"], ["reproduce", "--help"], ["features", "--help"], ["reproduce", "--dataset", "synthetic", "--seeds", "0"], ["nonsense"])]
print(codes, sorted(m for m in ("torch", "open_clip", "transformers", "streamlit") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[0, 0, 0, 2, 2] []"


def test_the_router_and_the_cache_status_load_no_torch():
    """The first page must render fast: a page's view loads when the page runs, and the Data page's cache status needs no model."""
    code = "import sys, fewshot_app.router, fewshot_app.context, fewshot_app.widgets, fewshot_core.feature_status; print('torch' in sys.modules, 'fewshot_app.views.train' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=CORE.parent)
    assert out.stdout.strip() == "False False"


ROOT = CORE.parent
MAX_LINES = 400  # no module over this (STYLE.md: one idea per module; split a longer one by idea)
LONG_MODULE_EXCEPTIONS: set[str] = set()  # none: every module keeps under MAX_LINES


def module_name(path: Path) -> str:
    """``fewshot_core/demo/clip.py`` -> ``fewshot_core.demo.clip``; a package's ``__init__.py`` -> the package."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, name: str, known: set[str]) -> set[str]:
    """The modules of ``known`` that the file imports anywhere (inside functions too): for ``from X import a``, X and
    X.a where X.a is a module; relative imports resolved against ``name``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    # a module's own package (its __init__) runs first anyway: an arrow to it is not an import cycle
    return {m for m in found & known if m != name and not name.startswith(m + ".")}


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules it imports, for every module of the package at ``root``."""
    paths = {module_name(p): p for p in root.rglob("*.py")}
    return {name: imported_modules(path, name, set(paths)) for name, path in paths.items()}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (each holds a cycle), by Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
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
                cycles.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_the_cycle_finder_sees_a_cycle_through_an_import_inside_a_function(tmp_path, monkeypatch):
    pkg = tmp_path / "toy"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from . import c\n")  # a package importing its own module: no cycle
    (pkg / "a.py").write_text("from .b import thing\n")
    (pkg / "b.py").write_text("def f():\n    from .sub import c\n")
    (pkg / "sub" / "c.py").write_text("import toy.a\nfrom .. import d\n")
    (pkg / "d.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    graph = import_graph(pkg)
    assert graph["toy.sub.c"] == {"toy.a", "toy.d"} and graph["toy.sub"] == {"toy.sub.c"}
    assert import_cycles(graph) == [["toy.a", "toy.b", "toy.sub", "toy.sub.c"]]  # from .sub import c runs toy.sub too
    (pkg / "b.py").write_text("def f():\n    pass\n")
    assert import_cycles(import_graph(pkg)) == []


def test_no_import_cycle_among_the_core_modules():
    """Counting imports inside functions too: a lazy import hides a cycle from Python, not from the design."""
    assert import_cycles(import_graph(CORE)) == []


def test_no_import_cycle_among_the_app_modules():
    assert len(import_graph(ROOT / "fewshot_app")) >= 12
    assert import_cycles(import_graph(ROOT / "fewshot_app")) == []


def test_no_module_over_400_lines():
    files = [*CORE.rglob("*.py"), *(ROOT / "fewshot_app").rglob("*.py"), ROOT / "app.py", *(ROOT / "pages").glob("*.py")]
    assert len(files) > 50 and (ROOT / "app.py") in files
    long = {str(p.relative_to(ROOT)): n for p in files if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert {k: v for k, v in long.items() if k not in LONG_MODULE_EXCEPTIONS} == {}
