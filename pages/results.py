"""Results: Table 1, Figure 4, the headline and the run catalogue (the view: fewshot_app/views/results.py)."""

from fewshot_app.router import run_page

run_page("results")
