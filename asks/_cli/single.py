"""One request: ``asks URL``, ``asks get URL``, the other verbs and ``request``.

The work is split in two halves so that each can fail in its own way:

- :func:`single_plan` turns the parsed arguments into a :class:`SinglePlan`
  before any kernel runs: everything that can be wrong with the command line
  itself (``--digest`` without ``--auth``, an unreadable ``--data-file``, a
  bad ``--cacert``) is a :class:`~.exits.UsageError` here, exit 2;
- :func:`run_single` runs the plan in a curio kernel under
  :func:`~.stopping.supervise` (Ctrl-C) and the ``--timeout`` deadline, and
  turns every failure the request can meet into an exit code and one line.

The body is always streamed (``stream=True``): it is written as it arrives,
never held whole, so ``asks URL -o big.iso`` runs in constant memory. An
upload is streamed too: a regular file goes as itself (asks sends its
``Content-Length``), anything without a known size (a pipe, stdin, a
``/proc`` file that says 0) in chunks read in a thread, so the kernel and
Ctrl-C stay responsive.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import stat
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import curio

from .._transport.threads import run_blocking
from ..auth import AuthBase, BasicAuth, DigestAuth, NetRCAuth
from ..errors import AsksException
from ..response_objects import StreamResponse
from ..sessions import Session
from .arguments import request_kwargs, session_kwargs
from .cookie_files import CookieFiles, cookie_files
from .exits import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    UsageError,
    describe,
    explain,
    print_error,
    silence_stdout,
    standard_stream,
    status_exit,
)
from .fetch_io import PipeWriter, is_pipe
from .output import (
    BodyTarget,
    NoProgress,
    Progress,
    download_progress,
    expected_size,
    head_text,
    print_head,
    stderr_console,
)
from .stopping import Outcome, deadline, supervise
from .url_form import with_default_scheme

if TYPE_CHECKING:
    from rich.console import Console


@dataclass
class SinglePlan:
    """Everything one request needs, checked before the kernel starts."""

    method: str
    url: str
    kwargs: dict[str, Any]
    session_kwargs: dict[str, Any]
    timeout: float | None
    output: str | None
    include: bool
    verbose: bool
    cookies: CookieFiles
    decompress: bool
    show_progress: bool


def _auth(args: argparse.Namespace) -> AuthBase | None:
    """The authentication of ``--auth`` (Basic, or Digest with ``--digest``) or ``--netrc``."""
    if args.netrc or args.netrc_file is not None:
        if args.auth is not None:
            raise UsageError("--auth and --netrc/--netrc-file do not go together")
        if args.digest:
            raise UsageError("--digest needs --auth USER:PASSWORD")
        return _netrc_auth(args.netrc_file)
    if args.auth is None:
        if args.digest:
            raise UsageError("--digest needs --auth USER:PASSWORD")
        return None
    if args.digest:
        return DigestAuth(args.auth)
    return BasicAuth(args.auth)


def _netrc_auth(file: str | None) -> AuthBase:
    import netrc

    try:
        return NetRCAuth(file)
    except OSError as exc:
        name = file if file is not None else "the netrc file"
        raise UsageError(f"cannot read {name}: {exc.strerror or exc}") from None
    except netrc.NetrcParseError as exc:
        # Its message may quote a token of the file, which can be a password.
        where = f"{exc.filename}, line {exc.lineno}" if exc.lineno else exc.msg
        raise UsageError(f"bad netrc file: {where}") from None
    except ValueError as exc:  # (names the machine, never a credential)
        raise UsageError(f"bad netrc file: {exc}") from None


def _body_kwargs(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, Any]:
    """The request keyword of the body option given (argparse allows at most one).

    Args:
        args: the parsed command line.
        stack: closes a ``--data-file`` once the run is over.

    Returns:
        ``{"json": ...}``, ``{"data": ...}`` or nothing.

    Raises:
        UsageError: the ``--data-file`` cannot be opened.
    """
    if args.json_doc is not None:
        if args.json_doc.value is None:
            # json=None means "no body" to the library, but `--json null` is a
            # valid document the user asked to send: send its bytes ourselves.
            return {"data": b"null", "headers": [("Content-Type", "application/json")]}
        return {"json": args.json_doc.value}
    if args.json_item:
        return {"json": dict(args.json_item)}
    if args.data:
        form: dict[str, list[str]] = {}
        for key, value in args.data:
            form.setdefault(key, []).append(value)
        return {"data": form}
    if args.data_raw is not None:
        return {"data": args.data_raw}
    if args.data_file is not None:
        if args.data_file == "-":
            return {"data": _upload(standard_stream("stdin", "read --data-file '-'").buffer)}
        try:
            return {"data": _upload(stack.enter_context(open(args.data_file, "rb")))}
        except OSError as exc:
            raise UsageError(f"cannot read --data-file {args.data_file!r}: {exc}") from None
    return {}


def _upload(source: IO[bytes]) -> Any:
    """A body for *source*: the file itself if its size is known, else its chunks.

    A regular file with a size is sent with Content-Length. Pipes, terminals
    and files that report no size (``/proc``, devices) are streamed chunked,
    read in a thread so that the kernel (and Ctrl-C) stays responsive.
    """
    try:
        info = os.fstat(source.fileno())
    except (OSError, ValueError):
        info = None
    if info is not None and stat.S_ISREG(info.st_mode) and info.st_size > 0:
        return source
    return _chunks(source)


async def _chunks(source: IO[bytes]) -> AsyncIterator[bytes]:
    """The contents of *source* in 64 KiB pieces, each read in a thread (see .threads)."""
    while chunk := await run_blocking(source.read, 65536, name="asks-stdin"):
        yield chunk


def single_plan(args: argparse.Namespace, stack: contextlib.ExitStack) -> SinglePlan:
    """Check the arguments of a single request and gather what it needs.

    Args:
        args: the parsed command line of ``get`` (the URL form), a verb or ``request``.
        stack: owns the files the plan opens (``--data-file``).

    Returns:
        the plan.

    Raises:
        UsageError: the command line cannot be run as given.
    """
    kwargs = request_kwargs(args)
    if args.query:
        kwargs["params"] = list(args.query)
    auth = _auth(args)
    if auth is not None:
        kwargs["auth"] = auth
    body = _body_kwargs(args, stack)
    body_headers = body.pop("headers", [])
    if body_headers:
        given = {name.lower() for name, _ in kwargs.get("headers", [])}
        extra = [(n, v) for n, v in body_headers if n.lower() not in given]  # -H wins
        kwargs["headers"] = [*kwargs.get("headers", []), *extra]
    kwargs.update(body)
    cookies = cookie_files(args.cookie or (), args.cookie_jar)
    if cookies.send:
        # Merged with a -H Cookie into one header; dropped, as cookies= would
        # be, on a redirect to another origin.
        kwargs["headers"] = [*kwargs.get("headers", []), ("Cookie", cookies.send)]
    output = args.output
    show_progress = (
        output is not None
        and not args.quiet
        and sys.stderr.isatty()
        and (output != "-" or not sys.stdout.isatty())
    )
    options = session_kwargs(args)
    if cookies.jar is not None:
        options["persist_cookies"] = cookies.jar
    return SinglePlan(
        method=args.method,
        url=with_default_scheme(args.url),
        kwargs=kwargs,
        session_kwargs=options,
        timeout=args.timeout,
        output=output,
        include=args.include,
        verbose=args.verbose,
        cookies=cookies,
        decompress=not args.no_decompress,
        show_progress=show_progress,
    )


def _body_writer(out: IO[bytes], target: BodyTarget) -> Callable[[bytes], Awaitable[None]]:
    """How each piece of the body is written to *out*.

    A reader that stops reading (a paused pager, a stalled consumer) fills
    its pipe, and a write that waits for it on the kernel's thread holds off
    Ctrl-C and SIGTERM (the task that stops the run never runs) until the
    reader goes on. So a stdout that is a pipe (or a socket) is waited for
    in the kernel (its select says when it takes bytes), then written at
    most ``PIPE_BUF`` bytes at a time, which a writable pipe takes without
    waiting (POSIX). Its mode is left blocking: the shell and the other
    processes share it. Files and devices (``/dev/null``, which no select
    takes) are written as they are.
    """
    if target.is_stdout and is_pipe(out):
        out.flush()  # what is buffered (nothing, normally) goes first
        pipe = PipeWriter(out.fileno())

        async def to_pipe(data: bytes) -> None:
            view = memoryview(data)
            while view:
                view = view[await pipe.write_piece(view) :]

        return to_pipe

    async def to_file(data: bytes) -> None:
        out.write(data)
        if target.is_stdout:
            out.flush()

    return to_file


async def _write_body(
    plan: SinglePlan,
    response: StreamResponse,
    console: Console,
    target: BodyTarget,
    out: IO[bytes],
) -> None:
    """Stream the body to *target* (opened as *out*), committing it only when whole."""
    body = response.body
    body.decompress_data = plan.decompress
    progress: Progress = NoProgress()
    write = _body_writer(out, target)
    try:
        if plan.show_progress:
            size = expected_size(response, plan.decompress)
            progress = download_progress(console, os.path.basename(target.name), size)
        if plan.method.upper() == "HEAD" and not plan.include:
            # No body to write: the answer is the head, so that is the output
            # (as curl -I writes it), the status line and headers as received.
            # (With -i the heads go to stderr, and stdout stays empty.)
            await write(head_text(response).encode("latin-1"))
        async for chunk in body:
            await write(chunk)
            progress.advance(len(chunk))
        out.flush()
        target.commit()
    except BaseException:
        target.abort()
        raise
    finally:
        progress.finish()


async def _exchange(plan: SinglePlan, session: Session, console: Console) -> int:
    """Send the request, show the heads (``-i``), write the body; the exit code."""
    # The output first: a -o FILE that cannot be written is the error before
    # the request goes out (a POST is not sent for an answer to be lost).
    target = BodyTarget(plan.output)
    out = target.open()
    try:
        try:
            response = await session.request(plan.method, plan.url, stream=True, **plan.kwargs)
        except AsksException:
            raise  # a TLSCertVerificationError is also a ValueError (ssl makes it one)
        except (ValueError, TypeError) as exc:
            raise UsageError(f"invalid request: {exc}") from None
    except BaseException:
        target.abort()
        raise
    async with response:
        if plan.include and not plan.verbose:  # (-v showed the heads already)
            for earlier in response.history:
                print_head(console, earlier)
            print_head(console, response)
        await _write_body(plan, response, console, target, out)
    return status_exit(response.status_code)


async def _single(plan: SinglePlan) -> int:
    """Make the request, then write ``-c``'s cookies; the exit code."""
    code = await _request_once(plan)
    try:
        plan.cookies.save()
    except OSError as exc:
        print_error(f"writing --cookie-jar {plan.cookies.save_to!r}: {exc.strerror or exc}")
        return EXIT_FAILED
    return code


async def _request_once(plan: SinglePlan) -> int:
    """Make the request; every expected failure becomes an exit code here."""
    console = stderr_console()
    where = f"{plan.method.upper()} {plan.url}"
    told: dict[str, Any] = {}
    if plan.verbose:
        from .verbose import Verbose

        told = Verbose(console).session_kwargs()
    try:
        async with Session(**plan.session_kwargs, **told) as session:
            try:
                async with deadline(plan.timeout):
                    return await _exchange(plan, session, console)
            except curio.TaskTimeout:
                print_error(f"{where}: no complete response within {plan.timeout:g} s")
                return EXIT_FAILED
    except UsageError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    except AsksException as exc:
        print_error(explain(exc) or describe(exc))
        return EXIT_FAILED
    except BrokenPipeError:
        silence_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        # The reason, not the OSError's text: that names the hidden temporary
        # file beside the target, not the file the user asked for.
        print_error(f"writing {plan.output or 'stdout'}: {exc.strerror or exc}")
        return EXIT_FAILED
    except Exception as exc:  # a library bug: still one line, not a traceback
        print_error(f"{where}: unexpected {describe(exc)}")
        return EXIT_FAILED


def run_single(args: argparse.Namespace) -> int:
    """Run one request from the parsed command line.

    Args:
        args: the parsed command line of a single-request command.

    Returns:
        the exit code.

    Raises:
        UsageError: the command line cannot be run as given.
    """
    with contextlib.ExitStack() as stack:
        plan = single_plan(args, stack)
        outcome: Outcome[int] = curio.run(supervise, lambda: _single(plan))
    if outcome.interrupted or outcome.result is None:
        return EXIT_INTERRUPTED
    return outcome.result
