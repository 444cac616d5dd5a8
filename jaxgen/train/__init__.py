"""Train state, the pure step builder, the one training loop, checkpoints and logging."""
