"""Figures of a training job as it runs, from its progress events (``events.jsonl``): the Q-Former loss curves."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from .translations import TRANSLATION_LABELS

LOSS_METRIC = "qformer_loss"  # mean training loss of one epoch (qformer.train_qformer)
STEP_METRIC = "qformer_step"  # optimizer steps taken by the end of that epoch (absent in jobs from before it was reported)
MAX_LEGEND = 12  # above this many trainings the legend is hidden (hover names each line)


def split_trainings(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The Q-Former progress events of a job, one list per training: a training's epochs count up from 1, so
    an epoch counter that does not grow (or a new total) starts the next one."""
    trainings: list[list[dict[str, Any]]] = []
    for e in events:
        metrics = e.get("metrics") or {}
        if e.get("event") != "progress" or LOSS_METRIC not in metrics:
            continue
        last = trainings[-1][-1] if trainings else None
        if last is None or int(e.get("done", 0)) <= int(last.get("done", 0)) or e.get("total") != last.get("total"):
            trainings.append([])
        trainings[-1].append(e)
    return trainings


def qformer_loss_figure(events: list[dict[str, Any]], loss: str | None = None) -> go.Figure:
    """One line per Q-Former training: its loss (mean over each epoch) against the optimizer step at the end of
    that epoch (the epoch where a job did not report steps), y-axis named after the loss.

    Args:
        events: a job's events (``Job.events()``); other events are ignored.
        loss: the loss's name (``QFormerTrainConfig.loss``: balanced, infonce, ...), for the y-axis.
    """
    trainings = split_trainings(events)
    by_step = bool(trainings) and all(STEP_METRIC in (e.get("metrics") or {}) for t in trainings for e in t)
    fig = go.Figure()
    for i, training in enumerate(trainings, start=1):
        x = [e["metrics"][STEP_METRIC] if by_step else e.get("done") for e in training]
        fig.add_scatter(
            x=x,
            y=[e["metrics"][LOSS_METRIC] for e in training],
            mode="lines+markers" if len(training) < 30 else "lines",
            name=f"training {i}",
            hovertemplate=f"training {i}<br>{'step' if by_step else 'epoch'} %{{x}}: loss %{{y:.4f}}<extra></extra>",
        )
    name, model = f"{loss} loss" if loss else "loss", TRANSLATION_LABELS["qformer"]
    fig.update_layout(
        title=f"{model} training {name}: {len(trainings)} training{'s' if len(trainings) != 1 else ''}, one line each",
        xaxis_title="optimizer step" if by_step else "epoch",
        yaxis_title=f"{model} {name} (mean over an epoch)",
        showlegend=len(trainings) <= MAX_LEGEND,
        height=320,
        margin={"t": 50, "b": 40},
        template="plotly_white",
    )
    return fig
