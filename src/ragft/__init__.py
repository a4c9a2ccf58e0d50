"""ragft: the reusable code of the course "RAG vs fine-tuning, knowledge vs behavior".

Importing the package turns off every model hub (the course runs offline) and sizes the
BLAS thread pools from the CPU quota before numpy or torch start their own; if torch was
imported first, its pools (already started from the host's core count) are resized too.
"""

from ragft.runtime import offline as _offline  # noqa: F401  (side effect: offline + thread env)
from ragft.runtime.threads import configure_imported_torch as _configure_imported_torch

_configure_imported_torch()

__version__ = "0.1.0"
