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
    """The first page must render fast: page modules load when shown, and the Data page's cache status needs no model."""
    code = "import sys, pages, app_sidebar, fewshot_core.feature_status; print('torch' in sys.modules, 'pages.train' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=CORE.parent)
    assert out.stdout.strip() == "False False"
