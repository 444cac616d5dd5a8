"""Figures: image grids, latent plots, curves, histograms (matplotlib, PNG)."""
