"""``python -m asks`` and the ``asks`` console script.

The work is done in :mod:`asks._cli`; this module stays a thin entry point so
that nothing heavy is imported before the arguments are read.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the asks command line.

    Args:
        argv: the arguments after the program name; ``None`` reads ``sys.argv``.

    Returns:
        the process exit code (see ``asks --help``).
    """
    from ._cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
