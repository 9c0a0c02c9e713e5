"""Plotly figures built from results tables: Figure 4, zero-shot vs few-shot, Table 1 as a frame."""

from __future__ import annotations

import textwrap
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from .comparisons import init_column
from .report import BASELINES, TRANSLATION_LABELS, TRANSLATIONS, column, label_budget, protocol_note, table1
from .run_catalog import seeds_phrase
from .summary import baseline_label
from .translations import TRANSLATION_REGISTRY

COLORS = {  # every series but the translations, whose colours are in their registry entries (translations.py)
    "image_only": "#1f77b4",
    "qformer_oracle": "#ff9896",
    "description_init": "#006d2c",
    "zeroshot_init": "#6baed6",
    "linear_probe": "#7f7f7f",
    "tip_adapter": "#9467bd",
    "tip_adapter_f": "#e377c2",
    "gda": "#17becf",
    "lp++": "#bcbd22",
    "zero_shot": "#2ca02c",
}
# Baselines are dashed lines, each its own dash (colours alone do not survive a grey-scale print).
DASHES = {
    "description_init": "longdashdot",
    "zeroshot_init": "8px,3px,2px,3px,2px,3px",
    "linear_probe": "dot",
    "tip_adapter": "dash",
    "tip_adapter_f": "2px,6px",
    "gda": "dashdot",
    "lp++": "longdash",
}
SELECTION = "text count chosen per seed on validation"
Y_TITLE = "test accuracy (%), mean ± sample SD over seeds"
SUBTITLE_WIDTH = 100  # characters per subtitle line: fits a 700 px export and a narrow window


def text_label(translation: str) -> str:
    """The translated descriptions of a translation, as a legend names them: "mean-shift text"."""
    return f"{TRANSLATION_LABELS[translation]} text"


def series_label(key: str) -> str:
    """The legend name of a Table 1 series: image only, a translation's column, the oracle or a baseline."""
    translations = {column(t): t for t in TRANSLATIONS}
    if key in translations:
        return f"image + {text_label(translations[key])} ({SELECTION})"
    fixed = {
        "image_only": "image only (adapter, 0 texts)",
        "qformer_oracle": f"image + {text_label('qformer')} (one text count chosen on test: oracle)",
    }
    return fixed.get(key) or baseline_label(key) + (" (image only)" if key.endswith("_init") else "")


def colour(key: str) -> str:
    """The colour of a Table 1 series: a translation's (by its name or column) from its registry entry, else ``COLORS``."""
    by_column = {column(t.name): t.colour for t in TRANSLATION_REGISTRY.values()}
    return by_column.get(column(key)) or COLORS[key]


def describe_run(config: dict[str, Any], seeds_done: dict[int, int] | None = None) -> str:
    """One line saying how a run's numbers were made: model, weights, protocol, seeds, selection, label budget.

    ``seeds_done``: shot count -> seeds finished (``run_catalog.seeds_done``); a partial run then says how
    many seeds its points have ("3 of 20 seeds done") instead of the seeds it asked for.
    """
    f, s = config.get("features", {}), config.get("sweep", {})
    model = f.get("model") or f.get("source", "?")
    weights = f.get("weights_tag") or f.get("weights_file") or ""
    protocol = protocol_note(s.get("protocol", ""), config.get("qformer_images_per_class")) or "Q-Former protocol ?"
    loss = s.get("qformer_train", {}).get("loss")
    seeds = s.get("seeds")
    count = len(seeds) if isinstance(seeds, list) else seeds if seeds is not None else "?"
    how_many = seeds_phrase(count, seeds_done) if isinstance(count, int) else f"{count} seeds"
    parts = [f"{model} {weights}".strip(), protocol + (f", {loss} loss" if loss else ""), how_many, SELECTION]
    return " · ".join([*parts, label_budget(s.get("val_per_class"))])


def wrap_title(title: str, subtitle: str = "", width: int = SUBTITLE_WIDTH) -> tuple[dict[str, Any], int]:
    """A plotly title with its subtitle broken into lines of at most ``width`` characters (at " · " where it
    can), pinned to the top, so that it is never cut off at the figure's edge nor runs into the plot.

    Returns:
        the layout's title and the top margin (pixels) its lines need.
    """
    lines: list[str] = []
    for part in subtitle.split(" · ") if subtitle else []:
        if lines and len(lines[-1]) + 3 + len(part) <= width:
            lines[-1] += " · " + part
        else:
            lines += textwrap.wrap(part, width) or [""]
    text = f"{title}<br><sup>{'<br>'.join(lines)}</sup>" if lines else title
    return {"text": text, "y": 1, "yref": "container", "yanchor": "top", "pad": {"t": 24}}, 64 + 22 * len(lines)


def _shot_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Table 1 without its zero-shot-only row (shots 0)."""
    return table[table.shots > 0] if len(table) else table


def _zero_shot_line(fig: go.Figure, t: pd.DataFrame, label: str = "zero-shot CLIP") -> None:
    """The zero-shot accuracy of Table 1 ``t`` as a dashed horizontal line, when the run has it."""
    if "zero_shot" in t and len(t):
        zs = float(t.zero_shot.iloc[0])
        fig.add_hline(y=zs, line={"color": COLORS["zero_shot"], "dash": "dash"}, annotation_text=f"{label} {zs:.1f}%")


def _hover(t: pd.DataFrame, key: str) -> list[str] | None:
    """Per point: the chosen text count and, for translations, the paired gain with its interval."""
    if f"{key}_texts" not in t:
        return None
    return [_hover_text(r, key) for _, r in t.iterrows()]


def _hover_text(r: pd.Series, key: str) -> str:
    """ "5 texts" (or "4.5 texts (median; 1–20 over seeds)"), then the paired gain, its interval and Holm-adjusted p."""
    if pd.isna(r[f"{key}_texts"]):
        return ""
    median, low_m, high_m = float(r[f"{key}_texts"]), r.get(f"{key}_texts_min"), r.get(f"{key}_texts_max")
    text = f"{median:g} texts" + (f" (median; {int(low_m)}–{int(high_m)} over seeds)" if pd.notna(low_m) and low_m != high_m else "")
    if pd.isna(r.get(f"{key}_gain")):
        return text
    low, high = r[f"{key}_gain_low"], r[f"{key}_gain_high"]
    interval = "1 seed: no interval" if pd.isna(low) else f"95% CI {low:+.2f} to {high:+.2f}"
    p = r.get(f"{key}_gain_p_holm")
    return f"{text}<br>gain over image only {r[key + '_gain']:+.2f} points ({interval})" + (f"<br>Holm-adjusted p {p:.3g}" if pd.notna(p) else "")


def _baselines(t: pd.DataFrame) -> list[str]:
    """The baselines Table 1 ``t`` holds, less image only on the sweep's head (drawn as "image only")."""
    own = {init_column(h) for h in t.get("head", pd.Series(dtype=object)).dropna() if h}
    return [b for b in BASELINES if b in t and b not in own and t[b].notna().any()]


def _default_subtitle(t: pd.DataFrame) -> str:
    """Seeds and selection, read from Table 1, for a figure drawn without a run description."""
    seeds = int(t.seeds.max()) if "seeds" in t and len(t) else 0
    return f"{seeds} seed{'s' if seeds != 1 else ''} · {SELECTION}" if seeds else ""


def figure4(results: pd.DataFrame, title: str = "", subtitle: str = "", oracle: bool = False) -> go.Figure:
    """Accuracy vs shots: image only and each translation (mean ± sample SD over seeds), baselines as dashed lines.

    ``subtitle``: how the numbers were made (``describe_run``: seeds, selection, label budget); without one,
    the seeds and the selection rule. Works on partial runs: missing methods are left out, a run without
    few-shot rows draws only zero-shot.
    """
    full = table1(results)
    t = _shot_rows(full)
    subtitle = subtitle or _default_subtitle(t)
    fig = go.Figure()
    series = ["image_only", *[column(x) for x in TRANSLATIONS]] + (["qformer_oracle"] if oracle else []) + _baselines(t)
    for key in series:
        if key not in t or t[key].isna().all():
            continue
        dash = DASHES.get(key, "dot" if key == "qformer_oracle" else "solid")
        texts = _hover(t, key)
        fig.add_trace(
            go.Scatter(
                x=t.shots,
                y=t[key],
                error_y={"type": "data", "array": t[f"{key}_std"], "visible": True},
                mode="lines+markers",
                name=series_label(key),
                line={"color": colour(key), "dash": dash},
                text=texts,
                hovertemplate="%{x} shots: %{y:.2f}%<br>%{text}<extra></extra>" if texts else "%{x} shots: %{y:.2f}%<extra></extra>",
            )
        )
    _zero_shot_line(fig, full)
    heading, top = wrap_title(title, subtitle)
    fig.update_layout(
        title=heading,
        xaxis={"title": "shots per class", "type": "log", "tickvals": list(t.shots)},
        yaxis={"title": Y_TITLE},
        legend={"orientation": "h", "y": -0.25},
        margin={"t": top},
        template="plotly_white",
    )
    return fig


def zero_vs_few(results: pd.DataFrame) -> go.Figure:
    """Bars per shot count: image only, each translation (per-seed validation choice), linear probe (± sample SD); zero-shot as a line."""
    full = table1(results)
    t = _shot_rows(full)
    fig = go.Figure()
    for key in ("image_only", *[column(x) for x in TRANSLATIONS], "linear_probe"):
        if key in t and not t[key].isna().all():
            fig.add_bar(
                x=[str(s) for s in t.shots],
                y=t[key],
                error_y={"type": "data", "array": t[f"{key}_std"]},
                name=series_label(key),
                marker_color=colour(key),
            )
    _zero_shot_line(fig, full, "zero-shot")
    fig.update_layout(
        barmode="group",
        xaxis_title="shots per class",
        yaxis_title=Y_TITLE,
        template="plotly_white",
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def worst_classes(per_class: pd.DataFrame, count: int = 15) -> go.Figure:
    """Horizontal bars of the ``count`` classes with the lowest accuracy, each labelled with its class and accuracy.

    Bars sit at positions 0..n-1 with one tick each (a category axis thins its labels when rows are tight,
    and would merge two classes of the same name); the height grows with the bars.
    """
    worst = per_class.head(count).iloc[::-1]
    names = [str(c) for c in worst["class"]]
    fig = go.Figure(
        go.Bar(
            x=worst.accuracy,
            y=list(range(len(worst))),
            orientation="h",
            marker_color=colour("qformer"),
            text=[f"{a:.0f}%" for a in worst.accuracy],
            textposition="outside",
            customdata=names,
            hovertemplate="%{customdata}: %{x:.1f}%<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis={"title": "test accuracy (%)", "range": [0, 110]},
        yaxis={"tickmode": "array", "tickvals": list(range(len(worst))), "ticktext": names, "automargin": True},
        template="plotly_white",
        height=110 + 26 * len(worst),
        margin={"t": 50, "b": 50},
        title=f"{len(worst)} worst classes",
    )
    return fig


def compare_runs(results_by_run: dict[str, pd.DataFrame]) -> go.Figure:
    """Image only (dashed) and image + Q-Former text (val-selected, solid; else the first translation run) of several runs."""
    fig = go.Figure()
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
    shots: set[int] = set()
    for i, (name, results) in enumerate(results_by_run.items()):
        t = _shot_rows(table1(results))
        shots |= {int(k) for k in t.get("shots", [])}
        color = palette[i % len(palette)]
        if "image_only" in t and not t.image_only.isna().all():
            fig.add_scatter(x=t.shots, y=t.image_only, mode="lines+markers", name=f"{name}: image only", line={"color": color, "dash": "dash"})
        shown = next((x for x in ("qformer", *reversed(TRANSLATIONS)) if column(x) in t), None)  # the method, else the last one run
        if shown:
            fig.add_scatter(x=t.shots, y=t[column(shown)], mode="lines+markers", name=f"{name}: image + {text_label(shown)}", line={"color": color})
    fig.update_layout(
        xaxis={"title": "shots per class", "type": "log", "tickvals": sorted(shots)},  # the shot counts only: no 2, 3, 5 of a log axis
        yaxis_title="test accuracy (%)",
        template="plotly_white",
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def group_figure(groups: pd.DataFrame, counts: tuple[int, int], title: str = "", subtitle: str = "") -> go.Figure:
    """Figure 4 split into two panels, the seen and the held-out classes (``class_groups.group_accuracy``):
    image only and each translation vs shots (mean ± sample SD over seeds, where the table has ``<group>_std``),
    zero-shot as a line; y ticks on both panels.

    Args:
        counts: how many classes are seen and held out (for the panel titles).
    """
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, subplot_titles=(f"seen classes ({counts[0]})", f"held-out classes ({counts[1]})"))
    shots = groups[groups.shots > 0]
    for col, group in enumerate(("seen", "held_out"), start=1):
        for setting in ("image_only", *TRANSLATIONS):
            part = shots[shots.setting == setting].sort_values("shots")
            if part.empty:
                continue
            key = column(setting)
            sd = part.get(f"{group}_std")
            fig.add_trace(
                go.Scatter(
                    x=part.shots,
                    y=part[group],
                    error_y={"type": "data", "array": sd, "visible": True} if sd is not None else None,
                    mode="lines+markers",
                    name=series_label(key),
                    legendgroup=key,
                    showlegend=col == 1,
                    line={"color": colour(key)},
                    hovertemplate="%{x} shots: %{y:.2f}%<extra></extra>",
                ),
                row=1,
                col=col,
            )
        zero = groups[groups.setting == "zeroshot"]
        if not zero.empty:
            fig.add_hline(
                y=float(zero[group].iloc[0]), line={"color": COLORS["zero_shot"], "dash": "dash"}, annotation_text="zero-shot CLIP", row=1, col=col
            )
    fig.update_xaxes(title="shots per class", type="log", tickvals=sorted(shots.shots.unique().tolist()))
    fig.update_yaxes(title="test accuracy (%), mean ± sample SD over seeds", row=1, col=1)
    fig.update_yaxes(showticklabels=True, row=1, col=2)  # shared axes hide the right panel's numbers
    heading, top = wrap_title(title, subtitle)
    fig.update_layout(title=heading, legend={"orientation": "h", "y": -0.3}, margin={"t": top + 30}, template="plotly_white")
    return fig


GAIN_PANELS = {"gain": "over image only (same head)", "vs_strongest": "over the strongest baseline"}


def _strongest_name(r: pd.Series) -> str:
    """The strongest baseline of a Table 1 row in words ("image only" for image only on the sweep's head)."""
    name = r.get("strongest_baseline")
    if not isinstance(name, str):
        return ""
    return "image only" if isinstance(r.get("head"), str) and name == init_column(r["head"]) else baseline_label(name)


def gains_figure(table: pd.DataFrame, title: str = "Does text help?", subtitle: str = "") -> go.Figure:
    """Each translation's paired gain per shot count with its 95% t-interval over seeds, in points: over image only
    on the same head (left) and over the strongest baseline of the shot count (right, named under each shot count a
    word a line, so neighbouring names never run together), with a zero line. A filled marker with * (gain) or †
    (harm) is Holm-adjusted p < 0.05; one seed gives no interval. Reads Table 1's columns; computes nothing new."""
    from plotly.subplots import make_subplots

    from .stats import mark

    t = _shot_rows(table)
    present = [x for x in TRANSLATIONS if f"{column(x)}_gain" in t and t[f"{column(x)}_gain"].notna().any()]
    panels = [f for f in GAIN_PANELS if any(f"{column(x)}_{f}" in t for x in present)] or ["gain"]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[GAIN_PANELS[f] for f in panels], horizontal_spacing=0.1)
    shots = [int(k) for k in t.shots] if len(t) else []
    offsets = {x: (i - (len(present) - 1) / 2) * 0.18 for i, x in enumerate(present)}
    for col, family in enumerate(panels, start=1):
        for x in present:
            prefix = f"{column(x)}_{family}"
            if prefix not in t:
                continue
            rows = t[t[prefix].notna()]
            marks = [mark(g, p) for g, p in zip(rows[prefix], rows.get(f"{prefix}_p_holm", pd.Series(float("nan"), index=rows.index)))]
            fig.add_trace(
                go.Scatter(
                    x=[shots.index(int(k)) + offsets[x] for k in rows.shots],
                    y=rows[prefix],
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": _known(rows[f"{prefix}_high"] - rows[prefix]),
                        "arrayminus": _known(rows[prefix] - rows[f"{prefix}_low"]),
                    },
                    mode="markers+text",
                    text=marks,
                    textposition="middle right",
                    marker={"color": colour(x), "size": 10, "symbol": ["circle" if m else "circle-open" for m in marks]},
                    name=text_label(x),
                    legendgroup=x,
                    showlegend=col == 1,
                    customdata=[_interval(r, prefix) for _, r in rows.iterrows()],
                    hovertemplate=f"{text_label(x)}, %{{customdata}}<extra></extra>",
                ),
                row=1,
                col=col,
            )
        fig.add_hline(y=0, line={"color": "#444", "width": 1}, row=1, col=col)
        names = [_strongest_name(r) for _, r in t.iterrows()] if family == "vs_strongest" else [""] * len(shots)
        fig.update_xaxes(
            tickvals=list(range(len(shots))),
            ticktext=[f"{k}<br>{'<br>'.join(textwrap.wrap(n, 8, break_long_words=False))}" if n else str(k) for k, n in zip(shots, names)],
            tickangle=0,
            range=[-0.6, len(shots) - 0.4],
            title="shots per class",
            row=1,
            col=col,
        )
    fig.update_yaxes(title="gain (points), mean and 95% CI over seeds", row=1, col=1)
    fig.update_yaxes(zeroline=True)
    heading, top = wrap_title(title, subtitle or "filled marker with * / † = Holm-adjusted p < 0.05 (paired over seeds)")
    fig.update_layout(title=heading, margin={"t": top + 36}, legend={"orientation": "h", "y": -0.3}, template="plotly_white")
    return fig


def _interval(r: pd.Series, prefix: str) -> str:
    """Hover text of one gain: "1 shot: +4.10 points (95% CI +2.03 to +6.17), Holm-adjusted p 0.012"."""
    k = int(r["shots"])
    low, high, p = r.get(f"{prefix}_low"), r.get(f"{prefix}_high"), r.get(f"{prefix}_p_holm")
    interval = "1 seed: no interval" if pd.isna(low) else f"95% CI {low:+.2f} to {high:+.2f}"
    return f"{k} shot{'s' if k != 1 else ''}: {r[prefix]:+.2f} points ({interval})" + (f", Holm-adjusted p {p:.3g}" if pd.notna(p) else "")


def _known(values: pd.Series) -> list[float | None]:
    """Error-bar lengths with None (no bar) where one seed gives no interval."""
    return [None if pd.isna(v) else float(v) for v in values]
