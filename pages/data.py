"""Data: the dataset, its images and the feature cache (the view: fewshot_app/views/data.py)."""

from fewshot_app.router import run_page

run_page("data")
