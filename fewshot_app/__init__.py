"""Few-shot Lab's Streamlit app: the router, the shared sidebar and context, jobs, state, words, widgets and
the page views. ``fewshot-lab app`` (or ``streamlit run app.py`` in a checkout) starts it; the library it drives,
``fewshot_core``, never imports Streamlit."""
