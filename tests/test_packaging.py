"""The package installs from pyproject.toml, and the requirements files say the same thing."""

import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _requirements(name: str) -> list[str]:
    lines = (ROOT / name).read_text().splitlines()
    return sorted(line.split("#")[0].strip().lower() for line in lines if line.split("#")[0].strip())


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _normalise(specs: list[str]) -> list[str]:
    return sorted(s.split("#")[0].strip().lower() for s in specs)


def test_requirements_files_match_pyproject():
    project = _pyproject()
    assert _requirements("requirements.txt") == _normalise(project["dependencies"])
    assert _requirements("requirements-dev.txt") == _normalise(project["optional-dependencies"]["test"])


def test_every_runtime_dependency_is_pinned():
    for spec in _pyproject()["dependencies"]:
        assert "==" in spec, f"{spec} is not pinned"


def test_imported_third_party_modules_are_declared():
    """Every top-level import in fewshot_core names a declared distribution (or the standard library)."""
    import ast

    declared = {s.split("==")[0].lower().replace("-", "_") for s in _pyproject()["dependencies"]}
    module_of = {"PIL": "pillow", "sklearn": "scikit_learn", "open_clip": "open_clip_torch", "yaml": "pyyaml"}
    imported = set()
    for path in (ROOT / "fewshot_core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            imported |= {n.split(".")[0] for n in names if n}
    third_party = {m for m in imported - set(sys.stdlib_module_names) if m != "fewshot_core"}
    optional = {"ray"}  # the optional executor
    missing = {m for m in third_party - optional if module_of.get(m, m).lower().replace("-", "_") not in declared}
    assert not missing, f"imported but not declared in pyproject.toml: {sorted(missing)}"


def test_console_script_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "fewshot_core.entry", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and "reproduce" in out.stdout
