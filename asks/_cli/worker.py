"""One worker process of ``asks fetch --processes N`` (see :mod:`.processes`).

Started by the parent as ``python -c`` with this package's own directory
first on ``sys.path`` (so the worker runs the same asks as the parent,
whatever the current directory holds); its options come pickled in the
environment, its URLs on stdin, and its JSON lines go to stdout.
"""

from __future__ import annotations

from .processes import worker_main

__all__ = ["worker_main"]
