"""Words, figures, diagrams and pictures for the pages (plotly and graphviz, never streamlit)."""
