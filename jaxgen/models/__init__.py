"""Flax Linen modules, one file a family."""
