"""Fetch many URLs through one session: :func:`fetch_many`, the library form of ``asks fetch``.

::

    async with asks.fetch_many(open("urls.txt"), concurrency=50) as results:
        async for result in results:
            print(result.url, result.status, result.size, result.error)

The input is read lazily and memory stays bounded whatever its size: the
reader stays at most a *lookahead* of URLs ahead of the fetching, at most
``concurrency`` URLs are in flight, and at most ``connections_per_host`` of
them (the session's) go to one host at once, so a host with a long backlog
neither takes every worker nor makes the reader buffer its URLs without
bound (see :mod:`asks._crawl_schedule`).

Whatever happens to one URL (a bad line, a refused connection, a timeout, a
404) becomes its :class:`FetchResult`; the run goes on. Results come in the
order the fetches finish. A body that cannot be saved in ``output_dir`` (the
directory gone or read-only, the disk full) is the run's failure, not the
URL's: every later body would fail the same way, after its request was sent,
so the iteration raises :class:`SaveFailed` and the run stops, as it does when
the input fails.

Leaving the ``async with`` block early (``break``, an exception,
cancellation) cancels every fetch still in flight; the session's pool
takes their connections back (a cut exchange closes its connection), and a
session made for the run is closed.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import curio

from ._channel import Channel
from ._crawl_schedule import Scheduler
from ._describe import describe
from ._filenames import file_mode, open_partial, safe_filename
from ._headers import Headers, HeadersInput
from ._numbers import check_int, is_int
from ._partition import host_key, shard_of
from ._request import _USER_AGENT
from ._retry import Retry
from ._robots import UNREACHABLE, RobotsCache
from ._transport.deadlines import kernel_seconds
from ._transport.trap_cycles import break_trap_cycle
from .errors import AsksException
from .response_objects import StreamResponse
from .sessions import _KWARGS, Session

__all__ = [
    "DEFAULT_CONNECTIONS_PER_HOST",
    "FetchResult",
    "FetchResults",
    "SaveFailed",
    "fetch_many",
    "kept_connections",
    "polite_retry",
    "polite_session",
]

# The polite defaults of a session fetch_many makes itself (docs/crawling.md).
DEFAULT_CONNECTIONS_PER_HOST = 4
# How many idle connections a crawl's session may keep open besides those in
# use. The workers bound the requests in flight (``concurrency``), each on a
# connection of its own; the pool is made larger by this many so that a
# connection to each recent origin stays open for its next URL. With the pool
# at ``concurrency``, a list over many origins in random order finds an idle
# connection to the next URL's origin almost never, and closes one and opens
# one per URL (docs/performance.md, "Crawling": 1 connection per URL against
# aiohttp's 1 per 60) - as it did at 1,000 in flight, when this was the whole
# pool rather than its idle part (99,150 connections for 100,000 URLs).
KEPT_CONNECTIONS = 1000


def kept_connections(concurrency: int) -> int:
    """The ``connections=`` of a crawl's session: the most sockets it keeps open.

    *concurrency* in use plus :data:`KEPT_CONNECTIONS` idle, bounded by half
    the process's open-file limit (each one is a descriptor; the rest stay
    for files, pipes and the kernel's own), and never below *concurrency*.
    """
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if soft == resource.RLIM_INFINITY:
            soft = 2 * KEPT_CONNECTIONS
    except (ImportError, OSError, ValueError):  # no such limit here (Windows)
        soft = 1024
    return max(concurrency, min(concurrency + KEPT_CONNECTIONS, soft // 2))


def polite_retry() -> Retry:
    """The retry policy of a session :func:`fetch_many` makes (and of ``asks fetch``).

    Back off on "too many requests" and "unavailable", as long as
    ``Retry-After`` says (RFC 9110 section 10.2.3); connection failures are
    retried too.
    """
    return Retry(total=3, status_forcelist=(429, 503), respect_retry_after=True)


def polite_session(concurrency: int, **kwargs: Any) -> Session:
    """A session with the polite defaults of a crawl, *kwargs* on top.

    Args:
        concurrency: the most requests the crawl has in flight.
        **kwargs: any other :class:`~asks.Session` keyword; these win.

    Returns:
        ``Session(connections=kept_connections(concurrency),
        connections_per_host=4, retries=polite_retry(), **kwargs)``: idle
        connections to recent origins stay open for their next URLs.
    """
    settings: dict[str, Any] = {
        "connections": kept_connections(concurrency),
        "connections_per_host": DEFAULT_CONNECTIONS_PER_HOST,
        "retries": polite_retry(),
    }
    settings.update(kwargs)
    return Session(**settings)


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch_many` reports for one URL.

    Attributes:
        url: the URL as read (stripped).
        status: the final status, after redirects; None when no response came.
        headers: the response headers asked for (``headers=``), by lower-case
            name; a header the response did not have is left out.
        content: the body, with ``keep_body=True``; else None.
        size: bytes of body received (after decoding ``Content-Encoding``).
        elapsed: seconds spent on the URL, waits for its turn included.
        error: None, or ``"ClassName: message"`` of what went wrong.
        error_type: the class name of the error, or None.
        file: with ``output_dir``, the name of the body's file inside it.
        skipped: None, or why the URL was not fetched: ``"robots.txt"``
            (disallowed) or ``"robots.txt unreachable"`` (no rules could be had).
    """

    url: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    size: int = 0
    elapsed: float = 0.0
    error: str | None = None
    error_type: str | None = None
    file: str | None = None
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the URL was fetched (with any status): no error, not skipped."""
        return self.error is None and self.skipped is None

    @property
    def failed(self) -> bool:
        """Whether a later run should try the URL again: an error, or no robots.txt to go by."""
        return self.error is not None or self.skipped == UNREACHABLE

    def as_dict(self, *, with_file: bool = False) -> dict[str, Any]:
        """The fields of the JSON line ``asks fetch`` writes.

        Always ``url``, ``status``, ``bytes`` (the size), ``elapsed`` and
        ``error``, as ``asks fetch`` always wrote; ``file`` when a file was
        saved (or always, with *with_file*); ``error_type``, ``headers`` and
        ``skipped`` only when they say something. ``content`` never.

        Args:
            with_file: include ``file`` even when it is None.

        Returns:
            a dict of JSON values.
        """
        data: dict[str, Any] = {
            "url": self.url,
            "status": self.status,
            "bytes": self.size,
            "elapsed": self.elapsed,
            "error": self.error,
        }
        if with_file or self.file is not None:
            data["file"] = self.file
        if self.error_type is not None:
            data["error_type"] = self.error_type
        if self.headers:
            data["headers"] = self.headers
        if self.skipped is not None:
            data["skipped"] = self.skipped
        return data

    def as_json(self, *, with_file: bool = False) -> str:
        """:meth:`as_dict` as one line of JSON, without the newline."""
        import json  # not for `import asks` (tests/test_hot_path.py)

        # ASCII, as asks fetch always wrote: any str (a lone surrogate too) fits.
        return json.dumps(self.as_dict(with_file=with_file))


_new = object.__new__
_set = object.__setattr__


def _fetched(
    url: str,
    status: int,
    headers: dict[str, str],
    content: bytes | None,
    size: int,
    elapsed: float,
    file: str | None,
) -> FetchResult:
    """The result of a URL that was fetched, as ``FetchResult(...)`` would make it.

    A frozen dataclass's ``__init__`` sets each of the ten fields through
    ``object.__setattr__``: the dearest single step a crawl adds per URL
    after the scheduler (86 bytecode instructions). Here the instance's
    ``__dict__`` is given whole, as ``__init__`` leaves it; tests/test_crawl.py
    holds the two to the same result, field by field.
    """
    result: FetchResult = _new(FetchResult)
    _set(
        result,
        "__dict__",
        {
            "url": url,
            "status": status,
            "headers": headers,
            "content": content,
            "size": size,
            "elapsed": elapsed,
            "error": None,
            "error_type": None,
            "file": file,
            "skipped": None,
        },
    )
    return result


def _error_result(url: str, exc: BaseException, elapsed: float = 0.0) -> FetchResult:
    text = describe(exc)
    kind = text.partition(":")[0]
    return FetchResult(url, elapsed=elapsed, error=text, error_type=kind)


_END: Any = object()


class SaveFailed(OSError):
    """A body could not be written in ``output_dir``: the run stops with this error.

    Attributes:
        directory: the ``output_dir``.
    """

    def __init__(self, directory: Path, error: OSError) -> None:
        super().__init__(error.errno, error.strerror or str(error))
        self.directory = directory

    def __str__(self) -> str:
        # The reason and the directory; not the hidden temporary file's name.
        return f"cannot write in {str(self.directory)!r}: {self.strerror}"


class _Failed:
    """The input itself failed: the iterator raises this once results run out."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class FetchResults:
    """The results of a :func:`fetch_many` run: an async iterator and context manager.

    ``async with fetch_many(...) as results`` starts the run;
    ``async for result in results`` gives each :class:`FetchResult` as it
    completes; leaving the block stops whatever is still running.
    """

    def __init__(
        self,
        urls: Iterable[str] | AsyncIterable[str],
        *,
        session: Session | None,
        concurrency: int,
        method: str,
        headers: Sequence[str],
        keep_body: bool,
        output_dir: Path | None,
        robots: bool,
        shard: tuple[int, int] | None,
        timeout: float | None,
        request_headers: HeadersInput,
        lookahead: int,
        request_kwargs: dict[str, Any],
    ) -> None:
        self._urls = urls
        self._given_session = session
        self._concurrency = concurrency
        self._method = method
        self._names = tuple(name.lower() for name in headers)
        self._keep_body = keep_body
        self._output_dir = output_dir
        self._robots_wanted = robots
        self._shard = shard
        self._timeout = kernel_seconds(timeout, "timeout")
        self._request_headers = request_headers
        self._lookahead = lookahead
        # Every request's keywords, made once: headers only when given, so a
        # crawl's calls carry options alone and take the session's prepared
        # request as it is (asks._request).
        self._call_kwargs: dict[str, Any] = {**request_kwargs, "stream": True}
        if request_headers is not None:
            self._call_kwargs["headers"] = request_headers
        self._session: Session | None = None
        self._robots: RobotsCache | None = None
        self._results: Channel[Any] = Channel(maxsize=concurrency)
        self._task: Any = None
        self._finished = False
        self._file_mode = 0o644
        self._makes_output_dir = True

    @property
    def session(self) -> Session:
        """The session of the run (the one given, or the one made for it)."""
        if self._session is None:
            raise RuntimeError("the run has not started: use 'async with fetch_many(...)'")
        return self._session

    @property
    def robots_fetches(self) -> int:
        """How many robots.txt requests the run made so far."""
        return 0 if self._robots is None else self._robots.fetches

    def _save_only_where_found(self) -> None:
        """Never make ``output_dir``: a missing one fails the first save (stopping the run).

        For ``asks fetch``, which made it before any request: a worker of
        ``--processes`` starting late would otherwise bring back a directory
        that vanished while another worker ran, and the run would go on.
        """
        self._makes_output_dir = False

    # -- the run's life ------------------------------------------------------

    async def __aenter__(self) -> FetchResults:
        if self._task is not None:
            raise RuntimeError("a fetch_many run can be started only once")
        if self._output_dir is not None:
            if self._makes_output_dir:
                self._output_dir.mkdir(parents=True, exist_ok=True)
            self._file_mode = file_mode()
        session = self._given_session
        if session is None:
            session = polite_session(self._concurrency)
        self._session = session
        if self._robots_wanted:
            self._robots = RobotsCache(session, self._user_agent(), self._request_headers)
        self._task = await curio.spawn(self._run)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._task is not None:
                await self._task.cancel()
        finally:
            if self._robots is not None:
                self._robots.close()
            if self._given_session is None and self._session is not None:
                await self._session.close()

    def __aiter__(self) -> AsyncIterator[FetchResult]:
        return self

    async def __anext__(self) -> FetchResult:
        if self._task is None:
            raise RuntimeError("iterate inside 'async with fetch_many(...) as results'")
        if self._finished:
            raise StopAsyncIteration
        item = await self._results.get()
        if item is _END:
            self._finished = True
            raise StopAsyncIteration
        if isinstance(item, _Failed):
            self._finished = True
            raise item.exc
        result: FetchResult = item
        return result

    # -- inside the run --------------------------------------------------------

    def _user_agent(self) -> str:
        """The User-Agent the requests send, which robots.txt rules are matched against."""
        for source in (self._request_headers, self.session.headers):
            if source is not None:
                value = Headers(source).get("user-agent")
                if value:
                    return str(value)
        return _USER_AGENT

    async def _run(self) -> None:
        per_host = getattr(self.session._pool, "per_host", None)
        scheduler = Scheduler(self._concurrency, per_host, self._lookahead)
        try:
            async with curio.TaskGroup() as workers:
                for _ in range(self._concurrency):
                    await workers.spawn(self._worker, scheduler)
                await self._read(scheduler)
                await scheduler.close()
        except Exception as exc:  # the input failed (or a bug): the consumer hears of it
            await self._results.put(_Failed(exc))
            return
        await self._results.put(_END)

    async def _read(self, scheduler: Scheduler) -> None:
        """Feed the scheduler from the input, line by line (never whole)."""
        if isinstance(self._urls, AsyncIterable):
            urls = self._urls
            try:
                async for line in urls:
                    await self._take(scheduler, line)
            finally:
                # An async generator left half way must be closed here, in
                # its task (curio refuses to finalise one at garbage
                # collection, PEP 533).
                aclose = getattr(urls, "aclose", None)
                if aclose is not None:
                    await aclose()
        else:
            for line in self._urls:
                await self._take(scheduler, line)

    async def _take(self, scheduler: Scheduler, line: object) -> None:
        if not isinstance(line, str):
            error = TypeError(f"a URL must be a str, not {type(line).__name__}")
            await self._results.put(_error_result(repr(line), error))
            return
        url = line.strip()
        if not url or url.startswith("#"):
            return
        if self._shard is not None and shard_of(url, self._shard[1]) != self._shard[0]:
            return
        await scheduler.add(url, host_key(url))

    async def _worker(self, scheduler: Scheduler) -> None:
        try:
            item = await scheduler.next()
            while item is not None:
                url, host = item
                result = await self._fetch(url)
                await self._results.put(result)
                item = await scheduler.swap(host)
        except Exception as exc:  # a bug or SaveFailed, not a URL's failure: stop the run
            # A crashed task of a curio TaskGroup is only recorded; the
            # consumer must hear of it, or it would wait for results forever.
            await self._results.put(_Failed(exc))

    async def _fetch(self, url: str) -> FetchResult:
        """Fetch one URL; whatever happens becomes its result, never an exception."""
        started = time.monotonic()
        try:
            if self._timeout is None:
                return await self._exchange(url, started)
            async with curio.timeout_after(self._timeout):
                return await self._exchange(url, started)
        except curio.TaskTimeout as exc:
            break_trap_cycle(exc)  # a crawl of dead hosts makes one per URL
            return FetchResult(
                url,
                elapsed=_since(started),
                error=f"RequestTimeout: no complete response within {self._timeout:g} s",
                error_type="RequestTimeout",
            )
        except SaveFailed:
            raise  # the output directory failed: no later URL can be saved either
        except Exception as exc:  # one bad URL must not stop the others
            return _error_result(url, exc, _since(started))

    async def _exchange(self, url: str, started: float) -> FetchResult:
        if self._robots is not None:
            reason = await self._robots.skip_reason(url)
            if reason is not None:
                return FetchResult(url, elapsed=_since(started), skipped=reason)
        response = await self.session.request(self._method, url, **self._call_kwargs)
        content: bytes | None = None
        saved: str | None = None
        async with response:
            if self._output_dir is not None:
                size, saved, content = await self._save(url, response)
            else:
                size, content = await self._read_body(response)
        return _fetched(
            url,
            response.status_code,
            self._pick_headers(response),
            content,
            size,
            _since(started),
            saved,
        )

    def _pick_headers(self, response: StreamResponse) -> dict[str, str]:
        picked: dict[str, str] = {}
        for name in self._names:
            value = response.headers.get(name)
            if value is not None:
                picked[name] = ", ".join(value) if isinstance(value, list) else str(value)
        return picked

    async def _read_body(self, response: StreamResponse) -> tuple[int, bytes | None]:
        whole = await response.body._read_in_hand()
        if whole is not None:
            return len(whole), whole if self._keep_body else None
        size = 0
        chunks: list[bytes] | None = [] if self._keep_body else None
        async for chunk in response.body:
            size += len(chunk)
            if chunks is not None:
                chunks.append(chunk)
        return size, None if chunks is None else b"".join(chunks)

    async def _save(self, url: str, response: StreamResponse) -> tuple[int, str, bytes | None]:
        """Stream the body into ``output_dir``: the file appears only once complete."""
        assert self._output_dir is not None
        name = safe_filename(url)
        try:
            # ".NAME.PID.RANDOM.part", locked until renamed: whoever watched
            # this process die (asks fetch --processes) can then remove its
            # files and no others; a later asks fetch, those whose pid is gone
            # and lock free, whatever machine wrote them.
            fd, temp, lock = open_partial(self._output_dir, name)
        except OSError as exc:
            raise SaveFailed(self._output_dir, exc) from exc
        size = 0
        chunks: list[bytes] | None = [] if self._keep_body else None
        try:
            with os.fdopen(fd, "wb") as out:
                os.fchmod(out.fileno(), self._file_mode)
                async for chunk in response.body:
                    out.write(chunk)
                    size += len(chunk)
                    if chunks is not None:
                        chunks.append(chunk)
            os.replace(temp, self._output_dir / name)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            # The body's own errors are asks exceptions (a TLSError is also an
            # OSError); any other OSError is the file system's.
            if isinstance(exc, OSError) and not isinstance(exc, AsksException):
                raise SaveFailed(self._output_dir, exc) from exc
            raise
        finally:
            os.close(lock)
        return size, name, None if chunks is None else b"".join(chunks)


def _since(started: float) -> float:
    return round(time.monotonic() - started, 6)


def _check_count(name: str, value: object) -> None:
    if check_int(value, name) < 1:
        raise ValueError(f"{name} must be at least 1, not {value}")


# What Session.request takes besides the URL. fetch_many checks the names
# once, up front: passed on unchecked, a misspelt keyword would come back as
# the same TypeError in the result of every URL of the run.
_REQUEST_KEYWORDS = _KWARGS | {"path", "retries", "connection_timeout"}


def _check_request_kwargs(request_kwargs: dict[str, Any]) -> None:
    if "stream" in request_kwargs:
        raise TypeError("fetch_many always streams the bodies: do not pass stream=")
    unknown = request_kwargs.keys() - _REQUEST_KEYWORDS
    if unknown:
        raise TypeError(f"fetch_many() got unexpected keyword arguments: {sorted(unknown)}")


def _check_shard(shard: object) -> None:
    if not (
        isinstance(shard, tuple)
        and len(shard) == 2
        and all(is_int(v) for v in shard)
        and 0 <= shard[0] < shard[1]
    ):
        raise ValueError(f"shard must be (k, n) with 0 <= k < n, not {shard!r}")


def fetch_many(
    urls: Iterable[str] | AsyncIterable[str],
    *,
    session: Session | None = None,
    concurrency: int = 20,
    method: str = "GET",
    headers: Sequence[str] = ("content-type",),
    keep_body: bool = False,
    output_dir: str | os.PathLike[str] | None = None,
    robots: bool = False,
    shard: tuple[int, int] | None = None,
    timeout: float | None = None,
    request_headers: HeadersInput = None,
    lookahead: int | None = None,
    **request_kwargs: Any,
) -> FetchResults:
    """Fetch every URL of *urls* through one session, results as they complete.

    ::

        async with asks.fetch_many(urls, concurrency=50, robots=True) as results:
            async for result in results:
                ...

    Args:
        urls: the URLs, any iterable or async iterable of str (a file, a
            generator, an async generator...), read lazily; each is
            stripped, and blank ones and ones starting with ``#`` are skipped.
            A plain iterable is read in the kernel's thread (a file on disk
            is fine; a slow pipe wants an async iterable). An async
            generator left half way is closed by the run.
        session: the session to use, as it is; None makes one for the run with
            polite defaults: ``connections=kept_connections(concurrency)``
            (the *concurrency* in use plus idle ones kept for their origins'
            next URLs), ``connections_per_host=4`` and
            ``Retry(total=3, status_forcelist=(429, 503), respect_retry_after=True)``
            (closed when the run ends).
        concurrency: the most URLs fetched at once.
        method: the HTTP method of every request.
        headers: the response headers to keep in each result (any case).
        keep_body: keep each body in ``result.content`` (in memory).
        output_dir: save each body in this directory (created if need be)
            under a safe name made from its URL (``result.file``), written as
            ``.NAME.PID.RANDOM.part`` beside it until whole.
        robots: obey each origin's robots.txt: fetched once per origin
            through the session, disallowed URLs skipped, ``Crawl-delay``
            made the origin's rate limit on the session (docs/crawling.md;
            a given session keeps those rates after the run).
        shard: ``(k, n)``: fetch only the URLs whose host falls in shard *k*
            (zero-based) of *n* (:func:`asks._partition.shard_of`), the same
            split on every machine.
        timeout: seconds for the whole of one URL (robots.txt, waiting for
            its turn and a connection, redirects, retries and the body).
        request_headers: headers sent with every request (a ``User-Agent``
            here replaces the default ``python-asks/<version>``).
        lookahead: the most URLs read ahead of the fetching (default
            ``10 * concurrency``, at least 100).
        **request_kwargs: passed on to each ``session.request`` (e.g.
            ``follow_redirects``, ``max_redirects``, ``retries``, ``auth``).

    Returns:
        a :class:`FetchResults`: use it with ``async with``, then ``async for``.

    Raises:
        TypeError: *concurrency* or *lookahead* not an int; ``stream`` in
            *request_kwargs* (the bodies are always streamed), or a name
            there that ``session.request`` does not take.
        ValueError: *concurrency* or *lookahead* below 1, a *shard* not
            ``(k, n)`` with ``0 <= k < n``, an empty *method*.
    """
    _check_count("concurrency", concurrency)
    if lookahead is not None:
        _check_count("lookahead", lookahead)
    if shard is not None:
        _check_shard(shard)
    if not isinstance(method, str) or not method:
        raise ValueError(f"method must be a non-empty str, not {method!r}")
    if isinstance(headers, str):
        headers = (headers,)
    _check_request_kwargs(request_kwargs)
    return FetchResults(
        urls,
        session=session,
        concurrency=concurrency,
        method=method,
        headers=headers,
        keep_body=keep_body,
        output_dir=None if output_dir is None else Path(output_dir),
        robots=robots,
        shard=shard,
        timeout=timeout,
        request_headers=request_headers,
        lookahead=lookahead if lookahead is not None else max(100, 10 * concurrency),
        request_kwargs=request_kwargs,
    )
