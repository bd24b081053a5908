"""All figures live here. Each function takes computed results and draws them."""

import sys

import matplotlib

# Files, not windows: the CLI, the report and the studies draw off-screen. Inside a
# Jupyter kernel the notebook's own (inline) backend stays, so figures still show there.
if "ipykernel" not in sys.modules:
    matplotlib.use("Agg")
