"""jaxgen: classic deep generative models in JAX/Flax, with real metrics and exact resume."""

__version__ = "0.1.0"

from jaxgen import runtime as _runtime

# Before any of jaxgen imports JAX: XLA reads its flags when the first backend starts.
_runtime.configure_xla()
_runtime.configure_malloc()
