"""Few-shot Lab: the Streamlit app's router. Each page draws the shared sidebar (app_sidebar.py)."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Few-shot Lab", page_icon=":material/biotech:", layout="wide")

PAGES = [
    st.Page("pages/data.py", title="Data", icon=":material/folder_open:", default=True),
    st.Page("pages/descriptions.py", title="Descriptions", icon=":material/edit_note:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/results.py", title="Results", icon=":material/monitoring:"),
]

st.navigation(PAGES).run()
