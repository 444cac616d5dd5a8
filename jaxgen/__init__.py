"""jaxgen: classic deep generative models in JAX/Flax, with real metrics and exact resume."""

__version__ = "0.1.0"
