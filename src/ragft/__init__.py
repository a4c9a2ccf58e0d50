"""ragft: the reusable code of the course "RAG vs fine-tuning, knowledge vs behavior".

Importing the package turns off every model hub (the course runs offline) and sizes the
BLAS thread pools from the CPU quota before numpy or torch start their own.
"""

from ragft.runtime import offline as _offline  # noqa: F401  (side effect: offline + thread env)

__version__ = "0.1.0"
