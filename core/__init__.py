"""Training Loop Lab's engine: data, models, the training loop and the measurements the pages show.

Plain Python + PyTorch; nothing here imports Streamlit, so every figure a page shows can be
produced from a script, a notebook or the command line (`python -m core.train --help`).
"""
