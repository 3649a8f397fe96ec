"""MNIST Lab's engine: data, model, trainer, run store. Plain Python: it never imports streamlit."""
