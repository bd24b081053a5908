"""Training TinyConv: optimizers, schedule, checkpoints and the loop."""
