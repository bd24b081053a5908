"""All figures live here. Each function takes computed results and draws them."""

import matplotlib

matplotlib.use("Agg")
