"""Train: run the sweep (translators, adapters, baselines) as a job (the view: fewshot_app/views/train.py)."""

from fewshot_app.router import run_page

run_page("train")
