"""Descriptions: generate, import, browse, edit and judge class descriptions (the view: fewshot_app/views/descriptions.py)."""

from fewshot_app.router import run_page

run_page("descriptions")
