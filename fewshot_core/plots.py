"""Plotly figures built from results tables: Figure 4, zero-shot vs few-shot, Table 1 as a frame."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from .report import table1

COLORS = {
    "image_only": "#1f77b4",
    "image_text_val": "#d62728",
    "image_text_oracle": "#ff9896",
    "linear_probe": "#7f7f7f",
    "tip_adapter": "#9467bd",
    "zero_shot": "#2ca02c",
}
LABELS = {
    "image_only": "image only (adapter, 0 texts)",
    "image_text_val": "image + text (text count chosen on validation)",
    "image_text_oracle": "image + text (text count chosen on test: oracle)",
    "linear_probe": "linear probe",
    "tip_adapter": "Tip-Adapter",
}


def describe_run(config: dict[str, Any]) -> str:
    """One line saying how a run's numbers were made: model, weights, protocol, seeds."""
    f, s = config.get("features", {}), config.get("sweep", {})
    model = f.get("model") or f.get("source", "?")
    weights = f.get("weights_tag") or f.get("weights_file") or ""
    return f"{model} {weights} · Q-Former protocol {s.get('protocol', '?')} ({s.get('qformer_train', {}).get('loss', '?')} loss) · seeds {s.get('seeds', '?')}".replace(
        "  ", " "
    )


def figure4(results: pd.DataFrame, title: str = "", subtitle: str = "", oracle: bool = False) -> go.Figure:
    """Accuracy vs shots: image only and image + text (mean ± std over seeds), references as lines."""
    t = table1(results)
    fig = go.Figure()
    series = ["image_only", "image_text_val"] + (["image_text_oracle"] if oracle else []) + ["linear_probe", "tip_adapter"]
    for key in series:
        if key not in t:
            continue
        dash = "dot" if key in ("linear_probe", "tip_adapter", "image_text_oracle") else "solid"
        texts = [f"{int(m)} texts" for m in t[key.replace("image_text", "texts")]] if key.startswith("image_text") else None
        fig.add_trace(
            go.Scatter(
                x=t.shots,
                y=t[key],
                error_y={"type": "data", "array": t[f"{key}_std"], "visible": True},
                mode="lines+markers",
                name=LABELS[key],
                line={"color": COLORS[key], "dash": dash},
                text=texts,
                hovertemplate="%{x} shots: %{y:.2f}%<br>%{text}<extra></extra>" if texts else "%{x} shots: %{y:.2f}%<extra></extra>",
            )
        )
    if "zero_shot" in t:
        fig.add_hline(
            y=float(t.zero_shot.iloc[0]),
            line={"color": COLORS["zero_shot"], "dash": "dash"},
            annotation_text=f"zero-shot CLIP {t.zero_shot.iloc[0]:.1f}%",
        )
    fig.update_layout(
        title={"text": f"{title}<br><sup>{subtitle}</sup>" if subtitle else title},
        xaxis={"title": "shots per class", "type": "log", "tickvals": list(t.shots)},
        yaxis={"title": "test accuracy (%)"},
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 80},
        template="plotly_white",
    )
    return fig


def zero_vs_few(results: pd.DataFrame) -> go.Figure:
    """Bars per shot count: zero-shot, image only, image + text (validation-selected)."""
    t = table1(results)
    fig = go.Figure()
    for key in ("image_only", "image_text_val", "linear_probe"):
        if key in t:
            fig.add_bar(
                x=[str(s) for s in t.shots], y=t[key], error_y={"type": "data", "array": t[f"{key}_std"]}, name=LABELS[key], marker_color=COLORS[key]
            )
    if "zero_shot" in t:
        fig.add_hline(y=float(t.zero_shot.iloc[0]), line={"color": COLORS["zero_shot"], "dash": "dash"}, annotation_text="zero-shot")
    fig.update_layout(
        barmode="group",
        xaxis_title="shots per class",
        yaxis_title="test accuracy (%)",
        template="plotly_white",
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def worst_classes(per_class: pd.DataFrame, count: int = 15) -> go.Figure:
    """Horizontal bars of the ``count`` classes with the lowest accuracy."""
    worst = per_class.head(count).iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=worst.accuracy, y=worst["class"], orientation="h", marker_color=COLORS["image_text_val"], hovertemplate="%{y}: %{x:.1f}%<extra></extra>"
        )
    )
    fig.update_layout(
        xaxis_title="test accuracy (%)",
        template="plotly_white",
        height=max(300, 24 * len(worst)),
        margin={"l": 200},
        title=f"{len(worst)} worst classes",
    )
    return fig


def compare_runs(results_by_run: dict[str, pd.DataFrame]) -> go.Figure:
    """Image only (dashed) and image + text (val-selected, solid) of several runs on one axis."""
    fig = go.Figure()
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
    for i, (name, results) in enumerate(results_by_run.items()):
        t = table1(results)
        color = palette[i % len(palette)]
        fig.add_scatter(x=t.shots, y=t.image_only, mode="lines+markers", name=f"{name}: image only", line={"color": color, "dash": "dash"})
        if "image_text_val" in t:
            fig.add_scatter(x=t.shots, y=t.image_text_val, mode="lines+markers", name=f"{name}: image + text", line={"color": color})
    fig.update_layout(
        xaxis={"title": "shots per class", "type": "log"},
        yaxis_title="test accuracy (%)",
        template="plotly_white",
        legend={"orientation": "h", "y": -0.25},
    )
    return fig
