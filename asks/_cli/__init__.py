"""The ``asks`` command line: one request, or a bulk fetch of many URLs.

Run as ``python -m asks`` or ``asks`` (the console script)::

    asks https://example.com/                       # a GET, the body on stdout
    asks example.com/page -H 'Accept: text/html'    # no scheme: http://
    asks post https://httpbin.org/anything --json '{"a": 1}' -i
    asks get https://example.com/big.iso -o big.iso  # with a progress bar
    asks fetch urls.txt --connections 20 --output-dir pages > results.jsonl

The package follows the life of a run, one module per step:

- :mod:`.arguments`: the parser, the option sets (the options every command
  shares are defined once there) and what they mean for the session and
  the requests; :mod:`.url_form`: ``asks URL`` as ``asks get URL``;
- :mod:`.single`: one request, streamed to stdout or a file;
- :mod:`.fetch`: many URLs through one session, one JSON line each;
  :mod:`.processes`: the same on N worker processes (``--processes``);
- :mod:`.output`: where bodies, heads and progress bars go;
- :mod:`.stopping`: the ``--timeout`` deadline and Ctrl-C;
- :mod:`.exits`: exit codes and the one-line error.

``rich`` (the ``cli`` extra: ``pip install 'asks[cli]'``) draws the progress
bars and the coloured output. It is imported only inside the functions that
draw, once the arguments are read, so ``import asks`` (and this package)
never imports it, and without it the commands stop with one clear line.

Exit codes: 0 for a 1xx/2xx/3xx final response (``fetch``: every URL
fetched, whatever its status), 4 for 4xx, 5 for 5xx, 1 for a failed request
(``fetch``: at least one URL failed), 2 for bad arguments, 130 after Ctrl-C
or SIGTERM, 141 when stdout is a closed pipe.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._filenames import safe_filename
from .arguments import build_parser, parse_args
from .exits import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    RICH_MISSING,
    UsageError,
    print_error,
    quiet_closed_stderr,
)
from .fetch import run_fetch
from .processes import run_fetch as run_parallel_fetch
from .processes import usable_cores
from .single import run_single

__all__ = ["build_parser", "main", "safe_filename"]


def _have_rich() -> bool:
    """Whether ``rich`` can be imported (it is the ``cli`` extra, not a dependency)."""
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``asks`` command line.

    Args:
        argv: the arguments after the program name; ``None`` reads ``sys.argv``.

    Returns:
        the exit code: 0 success, 1 failed request, 2 bad arguments, 4 a 4xx
        response, 5 a 5xx response, 130 interrupted, 141 broken pipe.
    """
    quiet_closed_stderr()
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if not _have_rich():
        print_error(RICH_MISSING)
        return EXIT_FAILED
    try:
        if args.command == "fetch":
            if args.processes is None:
                args.processes = usable_cores()
            if args.processes > 1:
                return run_parallel_fetch(args)
            return run_fetch(args)
        return run_single(args)
    except UsageError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
