"""A run's publishable files: Figure 4 (self-contained HTML, PNG, SVG), the gains figure (PNG), Table 1 (CSV,
LaTeX with booktabs), ``summary.json``, and one zip holding them with the run's config and results.

``python -m fewshot_core report RUN_DIR --out DIR`` writes them; the Results page offers the same files.
Nothing here computes a number: Table 1, the summary and the verdict come from ``report``/``summary``.

Static images come from kaleido (plotly's static export). Kaleido 1.x drives a Chrome or Chromium that is
already installed (``find_browser``: ``$BROWSER_PATH``, else chromium or chrome on the PATH); it is told to
use the plotly.js inside the plotly package and no MathJax, so rendering never reaches the network, and
nothing is ever downloaded. Without kaleido or a browser the PNG and SVG files are skipped with one line
saying why; the HTML, CSV, TeX and JSON files do not need them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import json
import os
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import FewShotError
from .names import unique_run_labels
from .plots import describe_run, figure4, gains_figure
from .report import TRANSLATION_LABELS, TRANSLATIONS, legend, summary_json, table1, table1_display, table_verdict
from .run_catalog import seeds_done
from .runs import RunFolder
from .storage import read_json

TEXT_FILES = ("figure4.html", "table1.csv", "table1.tex", "summary.json")
STATIC_FILES = {"figure4.png": ("figure4", "png"), "figure4.svg": ("figure4", "svg"), "gains.png": ("gains", "png")}
SIZES = {"figure4": (1000, 650), "gains": (1000, 520)}  # pixels of the static images (PNG at 2x)
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")  # Debian's, then Google's
RENDER_TIMEOUT_S = 90  # per image, then kaleido gives up (a browser that hangs is an error, not a wait)


@dataclass
class RunReport:
    """One run's numbers and figures, ready to be written out."""

    path: Path
    name: str  # the run's display name
    config: dict[str, Any]
    results: pd.DataFrame
    table: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        self.table = table1(self.results)

    @property
    def how(self) -> str:
        """How the numbers were made (model, protocol, seeds done, selection, label budget)."""
        return describe_run(self.config, seeds_done(self.path))

    def figures(self) -> dict[str, Any]:
        """Figure 4 and the gains figure, titled with the run's name and how it was made."""
        return {"figure4": figure4(self.results, f"Figure 4 · {self.name}", self.how), "gains": gains_figure(self.table, subtitle=self.how)}


def load_run_report(run_dir: Path | str, cache_root: Path | str | None = None) -> RunReport:
    """Read a run folder for publishing; its name is the one the Results page shows.

    Raises:
        FewShotError: the folder is missing, not a run folder, damaged, or holds no results yet.
    """
    path = Path(run_dir).expanduser()
    if not path.is_dir():
        raise FewShotError(f"{path} is not a folder; give a run folder (the 'run folder:' line of `reproduce`, or one under <cache>/runs/).")
    try:
        config = read_json(path / "config.json")
    except FileNotFoundError:
        raise FewShotError(f"{path} is not a run folder (it has no config.json); give a folder that `reproduce` wrote into.") from None
    except (OSError, ValueError) as e:
        raise FewShotError(f"The run's config.json in {path} cannot be read ({e}); run the sweep again into a new folder.") from e
    if not isinstance(config, dict):
        raise FewShotError(f"The run's config.json in {path} is not a settings record; run the sweep again into a new folder.")
    results = RunFolder(path).results()  # a damaged unit is a FewShotError that says what to do
    if results.empty:
        raise FewShotError(f"The run in {path} has no finished results yet; wait for its sweep, or resume it with the same settings.")
    run = {"path": str(path), "name": path.name, "config": config, "units": len(list((path / "units").glob("*.json")))}
    siblings = [run]
    if path.parent.name == "runs":  # named as on the Results page, among the other runs of its cache
        from .runs import list_runs

        siblings = [r for r in list_runs(cache_root or path.parent.parent) if r["path"] != str(path)] + [run]
    return RunReport(path, unique_run_labels(siblings)[str(path)], config, results)


def find_browser() -> str | None:
    """The Chrome or Chromium kaleido will drive: ``$BROWSER_PATH`` when it names a program, else the first of
    ``BROWSERS`` on the PATH; None when there is none. Never a downloaded one: this lab fetches no browser."""
    given = os.environ.get("BROWSER_PATH")
    if given:
        return given if os.path.isfile(given) and os.access(given, os.X_OK) else None
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def static_export_problem() -> str | None:
    """Why PNG and SVG cannot be made here (None when they can): kaleido missing, or no browser for it."""
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return "kaleido (plotly's static image export) is not installed: pip install -r requirements.txt"
    if find_browser() is None:
        return "kaleido needs Chrome or Chromium and none was found (install one, e.g. apt-get install chromium, or set BROWSER_PATH)"
    return None


def render_static(figures: dict[str, Any], wanted: dict[str, tuple[str, str]] = STATIC_FILES) -> dict[str, bytes]:
    """Render figures to image bytes in one browser session: ``wanted`` maps a file name to (figure, format).

    Raises:
        FewShotError: kaleido or the browser is missing, or rendering failed (one line, with the reason).
    """
    problem = static_export_problem()
    if problem:
        raise FewShotError(problem)
    import kaleido
    import plotly

    plotlyjs = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"  # the bundled one: no CDN
    jobs = [
        (name, figures[fig].to_dict(), {"format": fmt, "width": SIZES[fig][0], "height": SIZES[fig][1], "scale": 2 if fmt == "png" else 1})
        for name, (fig, fmt) in wanted.items()
    ]

    async def render() -> dict[str, bytes]:
        async with kaleido.Kaleido(path=find_browser(), plotlyjs=str(plotlyjs), mathjax=False, timeout=RENDER_TIMEOUT_S) as k:
            return {name: await k.calc_fig(fig, opts=opts) for name, fig, opts in jobs}

    try:  # a thread of its own: asyncio.run cannot start inside a running event loop (a notebook, a server)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, render()).result()
    except Exception as e:  # noqa: BLE001 - any browser or rendering failure is reported in one line, never a traceback
        raise FewShotError(f"kaleido could not render the images ({type(e).__name__}: {' '.join(str(e).split())[:200]})") from e


def escape_tex(text: str) -> str:
    """Text for LaTeX: its special characters escaped, and the table's ±, –, −, †, * as math."""
    special = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}"}
    special |= {"~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}"}
    out = re.sub(r"(?<![\w.])-(?=\d)", "\u2212", str(text))  # a minus sign, not a hyphen, before a number
    out = "".join(special.get(c, c) for c in out)
    for plain, tex in (
        ("±", r"$\pm$"),
        ("–", "--"),
        ("−", "$-$"),
        ("]*", "]$^{*}$"),
        ("]†", r"]$^{\dagger}$"),
        ("†", r"$\dagger$"),
        ("·", r"$\cdot$"),
    ):
        out = out.replace(plain, tex)
    return out


def _tex_row(cells: list[str]) -> str:
    return " & ".join(cells) + r" \\"


def table1_tex(table: pd.DataFrame, caption: str, val_per_class: int | str | None = None, label: str = "tab:table1") -> str:
    """Table 1 as a LaTeX ``table`` with booktabs rules: per shot count the accuracies (mean ± sample SD, the
    texts chosen), then a row of each translation's paired gain over image only [95% CI] with its Holm mark,
    and the strongest baseline. Needs ``\\usepackage{booktabs}``; every cell and the caption are escaped."""
    shown = table1_display(table, val_per_class)
    if shown.empty:
        raise FewShotError("This run has no few-shot results yet: Table 1 would be empty.")
    translations = [f"+ {TRANSLATION_LABELS[t]} text" for t in TRANSLATIONS if f"+ {TRANSLATION_LABELS[t]} text (texts)" in shown]
    lines = [r"\begin{table}[t]", r"\centering", r"\small", r"\begin{tabular}{rr" + "l" * (len(translations) + 2) + "}", r"\toprule"]
    lines.append(_tex_row(["Shots", "Seeds", "Image only", *[escape_tex(t) for t in translations], "Strongest baseline"]))
    lines.append(r"\midrule")
    for _, r in shown.iterrows():
        strongest = r["strongest baseline"]
        accuracy = r.get(strongest, r["image only"] if strongest == "image only" else "")
        cells = [str(r["shots"]), str(r["seeds"]), r["image only"], *[r[f"{t} (texts)"] for t in translations], f"{strongest} {accuracy}".strip()]
        lines.append(_tex_row([escape_tex(c) for c in cells]))
        gains = [r.get(f"{t} gain [95% CI]", "-") for t in translations]
        lines.append(_tex_row(["", "", r"\emph{gain}", *[escape_tex(g) for g in gains], ""]))
    lines += [r"\bottomrule", r"\end{tabular}", r"\caption{" + escape_tex(caption) + "}", r"\label{" + label + "}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def table1_caption(rep: RunReport) -> str:
    """What the TeX table says about itself: how the numbers were made, how to read the cells, the verdict."""
    how = [
        f"Table 1 ({rep.name}): test accuracy in %, mean ± sample SD over seeds; (texts) = descriptions per class chosen per seed on validation.",
        f"{rep.how}.",
        "Gain rows: paired gain over image only on the same seed, points [95% t-interval over seeds]; "
        "* / † = Holm-adjusted p < 0.05 and gain above / below 0.",
        f"Verdict: {table_verdict(rep.table)}",
    ]
    heads = [line for line in legend(rep.table) if line.startswith("image only and every translation")]
    return " ".join([*how, *(f"{h}." for h in heads)])


def report_files(rep: RunReport, static: bool = True) -> tuple[dict[str, bytes], str | None]:
    """Every file of the report by name, and why the static images were skipped (None if they were made).

    ``static``: also render figure4.png, figure4.svg and gains.png (kaleido + a browser; seconds).
    """
    figures = rep.figures()
    val = rep.config.get("sweep", {}).get("val_per_class")
    files = {
        "figure4.html": figures["figure4"].to_html(include_plotlyjs=True, full_html=True).encode(),  # plotly.js inline: opens offline
        "table1.csv": rep.table.to_csv(index=False).encode(),
        "summary.json": (json.dumps(summary_json(rep.results, rep.config), indent=2, ensure_ascii=False) + "\n").encode(),
    }
    try:
        files["table1.tex"] = table1_tex(rep.table, table1_caption(rep), val).encode()
    except FewShotError:
        pass  # zero-shot only: no Table 1 rows to typeset (the CSV and JSON still say so)
    skipped = None
    if static:
        try:
            files |= render_static(figures)
        except FewShotError as e:
            skipped = f"figure4.png, figure4.svg and gains.png skipped: {e}"
    return dict(sorted(files.items())), skipped


def run_zip(rep: RunReport, files: dict[str, bytes], skipped: str | None = None) -> bytes:
    """One zip of a run: its config and results, and the report's figures and tables, in a folder named after it;
    ``skipped`` (why the PNG/SVG files are missing) goes into a ``MISSING.txt`` beside them."""
    top = rep.path.name
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{top}/config.json", json.dumps(rep.config, indent=2, ensure_ascii=False, default=str))
        z.writestr(f"{top}/results.csv", rep.results.to_csv(index=False))
        for name, data in files.items():
            z.writestr(f"{top}/{name}", data)
        if skipped:
            z.writestr(f"{top}/MISSING.txt", skipped + "\n")
    return buffer.getvalue()


def _out_folder(out_dir: Path | str) -> Path:
    """``--out``, refused when it or a folder above it is a file (before anything is rendered)."""
    out = Path(out_dir).expanduser()
    for folder in (out, *out.parents):
        if folder.exists():
            if not folder.is_dir():
                raise FewShotError(f"--out {out}: {folder} is a file; give a folder to write the report into.")
            break
    return out


def write_report(run_dir: Path | str, out_dir: Path | str, static: bool = True) -> tuple[list[Path], str | None]:
    """Write the report of the run in ``run_dir`` into ``out_dir`` (created if needed).

    Returns:
        the files written, and why the PNG/SVG files were skipped (None when they were written).
    """
    out = _out_folder(out_dir)
    rep = load_run_report(run_dir)
    files, skipped = report_files(rep, static)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (out / name).write_bytes(data)
    except OSError as e:
        raise FewShotError(f"Cannot write the report into {out} ({e.strerror or e}); choose a folder you can write to.") from e
    return [out / name for name in files], skipped
