"""``tinykws report``: every figure and table of the assignment, regenerated."""
