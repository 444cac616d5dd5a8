"""Figures (image grids, latent plots, curves) and the report.md writer."""
