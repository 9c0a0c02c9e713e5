"""The package installs from pyproject.toml, and the requirements files say the same thing."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

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


@pytest.mark.slow
def test_the_built_wheel_runs_the_app_outside_a_checkout(tmp_path):
    """``fewshot-lab app`` from a wheel installed into a fresh environment, started far from any checkout: the
    wheel carries the app package, its page files and its Streamlit config, and the app serves and renders."""
    import os
    import shutil
    import sysconfig
    import urllib.request
    import zipfile

    from .browser import free_port, wait_for_port

    # Built from a copy of the sources, so the build leaves no build/ or egg-info behind in the checkout.
    source = tmp_path / "source"
    skip = shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__", ".*_cache", "data", "cache", "runs")
    shutil.copytree(ROOT, source, ignore=skip)
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index", str(source), "-w", str(dist)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = dist.glob("fewshot_lab-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"fewshot_app/pages/{p}.py" for p in ("data", "descriptions", "train", "results")} <= names
    assert {"fewshot_app/app.py", "fewshot_app/.streamlit/config.toml", "fewshot_core/model_configs/fewshot-tiny.json"} <= names
    assert {"fewshot_core/assets/demo-clip.safetensors", "fewshot_core/assets/demo-clip.json"} <= names  # the demo's own CLIP

    # A fresh venv: the wheel in its own site-packages, the dev venv's libraries (torch, streamlit) after it
    # through a plain .pth line (which runs no editable-install hook, so this checkout stays invisible).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, check=True)
    (Path(purelib.stdout.strip()) / "dev-libraries.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr

    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    files = "import fewshot_app, fewshot_core.demo.dataset as d; print(fewshot_app.__file__, d.__file__, d.CLIP_WEIGHTS, d.CLIP_WEIGHTS.is_file())"
    where = subprocess.run(
        [python, "-c", files],
        capture_output=True,
        text=True,
        cwd=away,
        env=env,
        check=True,
    )
    *paths, weights_found = where.stdout.split()
    assert all(str(venv) in p and str(ROOT) not in p for p in paths) and weights_found == "True", where.stdout

    # The installed main script renders every page from the installed page files, on the demo (its CLIP: the wheel's).
    render = (
        "import pathlib, fewshot_app; from streamlit.testing.v1 import AppTest; from streamlit.util import calc_hash\n"
        "a = AppTest.from_file(str(pathlib.Path(fewshot_app.__file__).parent / 'app.py'), default_timeout=120).run()\n"
        "for page in ('data', 'descriptions', 'train', 'results'):\n"
        "    a._page_hash = calc_hash(page); a.run()\n"
        "    assert not a.exception, (page, a.exception); print('TITLE=' + a.title[0].value)"
    )
    rendered = subprocess.run([python, "-c", render], capture_output=True, text=True, cwd=away, env=env)
    titles = [line.removeprefix("TITLE=") for line in rendered.stdout.splitlines() if line.startswith("TITLE=")]
    assert rendered.returncode == 0 and titles == ["Data · Offline demo (generated shapes)", "Descriptions", "Train", "Results"], rendered.stderr[
        -2000:
    ]

    port = free_port()
    server = subprocess.Popen(
        [venv / "bin" / "fewshot-lab", "app", "--server.port", str(port)],
        cwd=away,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy: this is 127.0.0.1
    try:
        wait_for_port(port, timeout=120)
        with direct.open(f"http://127.0.0.1:{port}/_stcore/health", timeout=10) as r:
            assert r.read() == b"ok"
    finally:
        server.terminate()
        log = server.communicate(timeout=30)[0]
    assert "Traceback" not in log, log
    # The packaged config applied (server.address = localhost): Streamlit names no network URL.
    assert f"URL: http://localhost:{port}" in log and "Network URL" not in log, log


def test_the_package_list_is_whole():
    """pyproject.toml lists the packages (mapped folders are not found by discovery): every folder of Python files
    in fewshot_core and fewshot_app is one of them, and each mapped folder exists."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed, mapped = set(setuptools["packages"]), setuptools["package-dir"]
    found = {".".join(p.parent.relative_to(ROOT).parts) for top in ("fewshot_core", "fewshot_app") for p in (ROOT / top).rglob("*.py")}
    assert found <= listed and all((ROOT / folder).is_dir() for folder in mapped.values())
    assert set(mapped) <= listed and (ROOT / "fewshot_app" / ".streamlit" / "config.toml").is_file()
