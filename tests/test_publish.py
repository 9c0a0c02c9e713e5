"""`python -m fewshot_core report RUN_DIR --out DIR` on a tiny real run: every file, self-contained HTML, TeX that
compiles-looking, PNG/SVG when a browser is found and one skip line when not; the zip; bad arguments exit 2."""

import io
import json
import re
import shutil
import zipfile

import pandas as pd
import pytest

from fewshot_core import publish
from fewshot_core.cli import main
from fewshot_core.report import summary_json, table1


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, small_bundle):
    """A finished sweep: 2 shot counts x 2 seeds, image only and each translation with 2 texts, every baseline."""
    from fewshot_core.config import AdapterConfig, QFormerTrainConfig, SweepConfig
    from fewshot_core.sweep import run_sweep

    folder = tmp_path_factory.mktemp("cache") / "runs" / "synthetic-tiny"
    cfg = SweepConfig(
        shots=[1, 2], text_counts=[0, 2], seeds=[0, 1], qformer_train=QFormerTrainConfig(epochs=1), adapter=AdapterConfig(steps=10), device="cpu"
    )
    run_sweep(small_bundle, cfg, folder)
    (folder / "label.txt").write_text("my_run 100% & more\n")  # a name with TeX's special characters
    return folder


def _report(run_dir, out, capsys, *extra) -> tuple[int, list[str], str]:
    code = main(["report", str(run_dir), "--out", str(out), *extra])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_report_writes_every_file_without_a_browser(run_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(publish, "find_browser", lambda: None)
    code, lines, err = _report(run_dir, tmp_path / "out", capsys)
    assert code == 0 and not err
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["figure4.html", "summary.json", "table1.csv", "table1.tex"]
    assert lines[-1] == (
        "figure4.png, figure4.svg and gains.png skipped: kaleido needs Chrome or Chromium and none was found "
        "(install one, e.g. apt-get install chromium, or set BROWSER_PATH)"
    )
    assert [line for line in lines if line.startswith("wrote ")] == [f"wrote {tmp_path / 'out' / name}" for name in written]
    html = (tmp_path / "out" / "figure4.html").read_text()
    assert '<script src="http' not in html and re.findall(r"<script[^>]*>", html) == ["<script>"] * 3  # inline scripts only: opens offline
    assert "Plotly.newPlot" in html and len(html) > 1_000_000  # plotly.js itself is inside (it is over a megabyte)
    assert "Figure 4 \\u00b7 my_run 100% & more" in html  # titled with the run's name (JSON-escaped inside the page)


def test_table1_files_hold_the_runs_numbers(run_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(publish, "find_browser", lambda: None)
    _report(run_dir, tmp_path, capsys)
    results = pd.read_csv(run_dir / "results.csv")
    table = table1(results)
    csv = pd.read_csv(tmp_path / "table1.csv")
    assert list(csv.shots) == [1, 2] and csv.image_only.tolist() == pytest.approx(table.image_only.tolist())
    summary = json.loads((tmp_path / "summary.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    assert summary["verdict"] == summary_json(results, config)["verdict"] and summary["multiple_comparisons"] == "holm"
    tex = (tmp_path / "table1.tex").read_text()
    for command in (r"\begin{table}", r"\toprule", r"\midrule", r"\bottomrule", r"\end{tabular}", r"\caption{", r"\end{table}"):
        assert tex.count(command) == 1, command
    assert r"my\_run 100\% \& more" in tex  # the run's name, escaped
    assert r"mean $\pm$ sample SD" in tex and "label budget: k support + 4 validation labels per class" in tex
    assert "2 seeds" in tex and "support protocol" in tex and "text count chosen per seed on validation" in tex
    rows = [line for line in tex.splitlines() if line.endswith(r"\\")]
    assert len(rows) == 1 + 2 * 2  # header, then an accuracy row and a gain row per shot count
    assert all(row.count("&") == 6 for row in rows)  # shots, seeds, image only, 3 translations, strongest baseline
    first = rows[1].split(" & ")
    assert first[:2] == ["1", "2"] and first[2] == f"{table.image_only.iloc[0]:.2f} $\\pm$ {table.image_only_std.iloc[0]:.2f}"


def test_png_and_svg_when_a_browser_is_found(run_dir, tmp_path, capsys):
    if publish.find_browser() is None:
        pytest.skip("no Chrome or Chromium here (CI installs Debian's chromium): the skip line is tested above")
    code, lines, _ = _report(run_dir, tmp_path, capsys)
    assert code == 0 and not any("skipped" in line for line in lines)
    assert (tmp_path / "figure4.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "gains.png").read_bytes()[:4] == b"\x89PNG"
    svg = (tmp_path / "figure4.svg").read_text()
    assert svg.startswith("<svg") and "image only (adapter, 0 texts)" in svg  # the legend is drawn text


def test_a_browser_that_cannot_render_is_one_line(run_dir, tmp_path, capsys, monkeypatch):
    fake = tmp_path / "not-a-browser"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(publish, "find_browser", lambda: str(fake))
    monkeypatch.setattr(publish, "RENDER_TIMEOUT_S", 20)
    code, lines, err = _report(run_dir, tmp_path / "out", capsys)
    assert code == 0 and "Traceback" not in err
    assert lines[-1].startswith("figure4.png, figure4.svg and gains.png skipped: kaleido could not render the images (")
    assert (tmp_path / "out" / "table1.tex").is_file() and not (tmp_path / "out" / "figure4.png").exists()


def test_browser_lookup_reads_browser_path_and_the_path(tmp_path, monkeypatch):
    program = tmp_path / "chromium"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setenv("BROWSER_PATH", str(program))
    assert publish.find_browser() == str(program)
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "missing"))
    assert publish.find_browser() is None  # a wrong BROWSER_PATH is not silently replaced by another browser
    monkeypatch.delenv("BROWSER_PATH")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert publish.find_browser() == str(program)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert publish.find_browser() is None and "none was found" in publish.static_export_problem()


def test_one_zip_holds_the_config_results_figures_and_tables(run_dir, monkeypatch):
    monkeypatch.setattr(publish, "find_browser", lambda: None)
    rep = publish.load_run_report(run_dir)
    files, skipped = publish.report_files(rep)
    assert skipped and set(files) == {"figure4.html", "table1.csv", "table1.tex", "summary.json"}
    with zipfile.ZipFile(io.BytesIO(publish.run_zip(rep, files, skipped))) as z:
        names = sorted(z.namelist())
        assert names == sorted(f"synthetic-tiny/{n}" for n in ["config.json", "results.csv", "MISSING.txt", *files])
        assert z.read("synthetic-tiny/MISSING.txt").decode().startswith("figure4.png, figure4.svg and gains.png skipped: ")
        assert json.loads(z.read("synthetic-tiny/config.json")) == json.loads((run_dir / "config.json").read_text())
        assert z.read("synthetic-tiny/table1.tex") == files["table1.tex"]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda tmp, run: (tmp / "nowhere", tmp / "out"), "is not a folder; give a run folder"),
        (lambda tmp, run: (tmp, tmp / "out"), "is not a run folder (it has no config.json)"),
        (lambda tmp, run: (run, tmp / "file.txt" / "out"), "file.txt is a file; give a folder"),
        (lambda tmp, run: (run, tmp / "file.txt"), "file.txt is a file; give a folder"),
    ],
)
def test_bad_arguments_are_one_error_line(run_dir, tmp_path, capsys, make, message):
    (tmp_path / "file.txt").write_text("mine")
    source, out = make(tmp_path, run_dir)
    code, lines, err = _report(source, out, capsys)
    assert code == 2 and not lines and len(err.splitlines()) == 1 and err.startswith("error: ") and message in err
    assert (tmp_path / "file.txt").read_text() == "mine"  # nothing of the user's is touched


def test_a_run_without_results_is_an_error_line(run_dir, tmp_path, capsys):
    empty = tmp_path / "runs" / "empty"
    (empty / "units").mkdir(parents=True)
    shutil.copy(run_dir / "config.json", empty / "config.json")
    code, _, err = _report(empty, tmp_path / "out", capsys)
    assert code == 2 and "has no finished results yet" in err and len(err.splitlines()) == 1


def test_escape_tex_by_hand():
    assert publish.escape_tex("a_b 5% & $x# {y} ~^\\") == r"a\_b 5\% \& \$x\# \{y\} \textasciitilde{}\textasciicircum{}\textbackslash{}"
    assert publish.escape_tex("62.67 ± 8.22 (4; 2–8)") == r"62.67 $\pm$ 8.22 (4; 2--8)"
    assert publish.escape_tex("-3.45 [-5.10, +1.20]†  +4.10 [+2.03, +6.17]*") == r"$-$3.45 [$-$5.10, +1.20]$^{\dagger}$  +4.10 [+2.03, +6.17]$^{*}$"
    assert publish.escape_tex("1-2 shots · k-shot") == r"1-2 shots $\cdot$ k-shot"  # a hyphen between words stays one
