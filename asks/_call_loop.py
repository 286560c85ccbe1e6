"""A call's loop: send, read the answer, and follow it (redirects, auth, retries).

:class:`CallLoop` is the part of :class:`asks.Session` that runs one call
once its options are settled: the request goes out through the transport
(``_exchange``, which dials, resends a request a dead pooled connection
swallowed, and counts connection-level retries), and the response is read
whole (``_buffered``), handed over streamed or to a callback
(``_final_response``), or passed on its way to the next request of the call:
a redirect followed (``_follow``), an auth challenge answered, a response
retried under :class:`asks.Retry`. A passed response's body is read whole
for ``history``, bounded for a streamed call (``_passed``).

It is a mixin of ``Session``, not an object of its own: the loop runs once
per request, and a method of the session costs one lookup where an object
behind an attribute would cost two. What it reads of the session is
declared at the top of the class.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import h11

from . import _retry
from ._boundary import reraise, translate
from ._headers import Headers, ResponseHeaders
from ._held_body import HeldChallenge, ReadsWhole
from ._redirects import REDIRECT_CODES, RedirectPlan, plan_redirect, strips_credentials
from ._request import IDEMPOTENT, Call, RequestFactory
from ._retry import Retry, RetryBudget
from ._transport.http11 import HTTP11Connection
from ._transport.interfaces import BodyOverLimit, BodySourceFailed
from ._transport.routes import ProxyChoice, ProxyRoute
from ._transport.transport import Transport
from ._urls import URL
from .auth import AuthBase, PostResponseAuth, PreResponseAuth
from .errors import (
    AsksException,
    BadHttpResponse,
    ConnectFailed,
    ProxyError,
    ServerClosedConnectionError,
    TooManyRedirects,
    UnreplayableBody,
)
from .response_objects import (
    BaseResponse,
    Response,
    StreamBody,
    StreamResponse,
    content_coding,
)

if TYPE_CHECKING:
    # Imported on first use: http.cookiejar costs milliseconds to import and
    # only sessions that keep or receive cookies need it.
    from .cookie_utils import CookieTracker
    from .response_objects import BodySource

__all__ = ["CallLoop"]

# Headers that describe a body; they go when a redirect drops the body.
_BODY_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "content-encoding",
        "content-language",
        "content-location",
        "transfer-encoding",
    }
)
_ORIGIN_CREDENTIALS = ("Authorization", "Cookie")
_CREDENTIALS = (*_ORIGIN_CREDENTIALS, "Proxy-Authorization")
# The answers the loop looks at before anything else: redirects, a
# forwarding proxy's 407, and a 417 to an expectation (one set test on the
# hot path for all of them).
_REDIRECT_PROXY_AUTH_OR_417 = REDIRECT_CODES | {407, 417}
# The most of a passed response's body (a redirect, a challenge, a response
# retried) a streamed call reads; see CallLoop._passed.
_PASSED_BODY_LIMIT = 1024 * 1024


class _Options(NamedTuple):
    stream: bool
    callback: Callable[[bytes], Awaitable[Any]] | None
    encoding: str
    auth: AuthBase | None
    auth_off_domain: bool
    follow_redirects: bool
    max_redirects: int
    retries: int | Retry  # as given, for the plain-call cache
    connection_retries: int  # _exchange's own count (0 under a Retry)
    retry: Retry | None
    connection_timeout: float | None
    jar: CookieTracker | None
    proxy: ProxyChoice  # the call's own proxy=; None: the session's route
    pool_timeout: float | None
    cookies_off: bool  # persist_cookies=False on the call: no cookie handling at all


class CallLoop:
    """The request loop of :class:`asks.Session` (a mixin: see the module)."""

    # What the loop reads of the session (set by Session.__init__).
    _requests: RequestFactory
    _transport: Transport
    max_body_size: int | None
    max_decoded_size: int | None

    async def _run(
        self, call: Call, options: _Options, deadline: float | None = None
    ) -> BaseResponse:
        history: list[BaseResponse] = []
        redirects = 0
        auth = options.auth
        auth_retried = False
        jar = options.jar
        # The policy, then (from the first retry question on) this call's
        # budget under it: one name, so a plain call pays for one check.
        retrying: Retry | RetryBudget | None = options.retry
        while True:
            # (None first: an isinstance check against an ABC is a call.)
            if auth is not None and isinstance(auth, PreResponseAuth) and not call.crossed:
                call.auth_headers = dict(await auth(call.auth_request()))
            # The auth headers stay for a Retry's resend of this request; a
            # redirect drops them (_follow), a challenge replaces them.
            wire = self._requests.wire_headers(call, jar)
            try:
                conn, head, headers, elapsed = await self._exchange(call, wire, options)
            except AsksException as error:
                if retrying is None:
                    raise
                retrying = RetryBudget.of(retrying, deadline)
                delay = retrying.after_error(
                    call.method, call.can_resend, error, isinstance(error, ConnectFailed)
                )
                if delay is None:
                    raise
                await _retry.sleep(delay)
                call.resent = False  # a new request: its own silent resend
                continue
            if jar is not None:
                jar.store(headers, call.url.text, call.url.host, call.url.scheme)
            status = head.status_code

            plan: RedirectPlan | None = None
            # One set test for the answers looked at first (see the set).
            if status in _REDIRECT_PROXY_AUTH_OR_417:
                if status == 407:
                    await _check_proxy_answer(call, conn, head)
                elif status == 417:
                    if _expects_continue(call.headers) and call.can_resend:
                        # RFC 9110 section 10.1.1: a 417 to a 100-continue
                        # expectation says only that something on the way
                        # does not do expectations; the request SHOULD be
                        # repeated without it. Once: the repeat has none.
                        # Not a retry of the caller's: a request of its own.
                        passed = await self._passed(call, conn, head, headers, options, elapsed)
                        history.append(passed)
                        _drop_expectation(call)
                        continue
                elif options.follow_redirects and call.method != "HEAD":
                    try:
                        plan = plan_redirect(
                            status, call.method, call.url, headers.get("location")
                        )
                    except ValueError as exc:
                        await conn.abort()
                        raise BadHttpResponse(f"{call.where}: bad redirect: {exc}") from None
            challenge = (
                status == 401
                and isinstance(auth, PostResponseAuth)
                and not auth_retried
                and not call.crossed
                and call.can_resend
            )
            if plan is None and not challenge:
                if retrying is not None and status in retrying.status_forcelist:
                    retrying = RetryBudget.of(retrying, deadline)
                    delay = retrying.after_response(call.method, call.can_resend, headers)
                    if delay is not None:
                        # Read whole (a stream's too) so the connection
                        # serves the retry; kept in history.
                        retried = await self._retried(call, conn, head, headers, options, elapsed)
                        if retried is not None:
                            history.append(retried)
                        await _retry.sleep(delay)
                        call.resent = False
                        continue
                if options.stream or options.callback is not None:
                    response = await self._final_response(
                        call, conn, head, headers, options, elapsed
                    )
                else:
                    response = await self._buffered(
                        call, conn, head, headers, options.encoding, elapsed, self.max_body_size
                    )
                response.history = history
                return response

            # An intermediate response: read it whole so its connection can
            # serve the next request of this call.
            held: HeldChallenge | None = None
            source: ReadsWhole = conn
            if challenge and (options.stream or options.callback is not None):
                # It may yet be the final response: past the bound its rest
                # stays in the connection for the caller (_held_body).
                source = held = HeldChallenge(conn)
            try:
                response = await self._passed(call, source, head, headers, options, elapsed)
                if jar is None and not options.cookies_off and headers.has(b"set-cookie"):
                    # No store, but the cookies a redirect or a challenge sets
                    # go with the rest of this call (a login's 302 sets the
                    # session its next page needs), as requests does; by the
                    # same rules as a store's, and nothing outlives the call.
                    jar = _make_tracker(True)
                    assert jar is not None
                    jar.store(headers, call.url.text, call.url.host, call.url.scheme)
                retry_headers = None
                if challenge:
                    assert isinstance(auth, PostResponseAuth)
                    retry_headers = await auth(response, call.auth_request())
            except BaseException:
                # A hook or the auth object raised (or a cancellation): a
                # connection held past the bound must not stay open.
                if held is not None:
                    await held.abort()
                raise
            if challenge:
                if retry_headers:
                    if held is not None:
                        # Its rest unread could take any time: closed, and
                        # the retry goes out on a new connection.
                        await held.abort()
                    auth_retried = True
                    history.append(response)
                    call.auth_headers = dict(retry_headers)
                    continue
                if plan is None:
                    if held is not None:
                        # Read to be shown to the auth object, it is final
                        # all the same: as such, streamed or given to the
                        # callback, as the call asked - all of it.
                        response = await self._unanswered(
                            call, response, head, headers, options, held
                        )
                    response.history = history
                    return response
            assert plan is not None
            if redirects >= options.max_redirects:
                raise TooManyRedirects(
                    f"{call.where}: more than {options.max_redirects} redirects"
                )
            redirects += 1
            history.append(response)
            self._follow(call, plan, options)
            # The next hop is a new request (RFC 9110 section 15.4): its own
            # 401 gets its own answer (RFC 7616 section 3.3 - a challenge is
            # per request, so the retry spent on an earlier hop does not
            # count). Still bounded: one retry per hop, hops by max_redirects.
            auth_retried = False

    def _follow(self, call: Call, plan: RedirectPlan, options: _Options) -> None:
        # The call's headers may be the session's own object: change a copy.
        headers = call.headers.copy()
        crossing = strips_credentials(call.url, plan.url)
        if crossing:
            # Host is the target's host and port (RFC 9110 section 7.2): a
            # value the caller gave was for the origin it named, and sent to
            # another one it would reach the wrong virtual host (or another
            # site behind a shared front end). The new URL's own goes instead.
            headers.pop("Host", None)
        if crossing and not options.auth_off_domain:
            # Credentials were meant for the origin the caller named, not for
            # wherever it points (a leak many clients have shipped as a CVE).
            call.crossed = True
            names: tuple[str, ...] = _CREDENTIALS
            if self._same_proxy(call.url, plan.url, options.proxy):
                # The caller's Proxy-Authorization is for the proxy alone
                # (never sent to an origin): through the same proxy it holds.
                names = _ORIGIN_CREDENTIALS
            for name in names:
                headers.pop(name, None)
            call.cookies = None
        if not plan.keep_body:
            call.body = None
            for name in list(headers):
                if name.lower() in _BODY_HEADERS:
                    del headers[name]
        elif not call.can_resend:
            raise UnreplayableBody(
                f"{call.where}: redirected with {plan.method} to {plan.url}, but the body "
                "was a one-shot stream that cannot be sent again"
            )
        call.headers = headers
        call.auth_headers = {}  # they were for the request redirected
        call.method = plan.method
        call.url = plan.url
        call.resent = False  # a new request: its own silent resend

    def _same_proxy(self, old: URL, new: URL, call_proxy: ProxyChoice) -> bool:
        """Whether requests to *old* and *new* go through one proxy."""
        router = self._transport.router
        if router is None:
            return False
        proxy = router.proxy_for(old.origin, call_proxy)
        return proxy is not None and proxy == router.proxy_for(new.origin, call_proxy)

    def _stream_body(self, call: Call, conn: BodySource, headers: Headers) -> StreamBody:
        return StreamBody(conn, content_coding(headers), self.max_decoded_size, call.where)

    async def _buffered(
        self,
        call: Call,
        conn: ReadsWhole,
        head: h11.Response,
        headers: ResponseHeaders,
        encoding: str,
        elapsed: float,
        limit: int | None,
        drop_over_limit: bool = False,
    ) -> Response:
        # *limit*: the session's max_body_size, or a passed response's bound
        # (see _passed), which *drop_over_limit* makes an empty body rather
        # than an error. (Given by the caller: one attribute read fewer here.)
        try:
            # The connection goes back by itself (or closes on a failure).
            content = await conn.read_all(limit)
        except BaseException as exc:
            if not (drop_over_limit and isinstance(exc, BodyOverLimit)):
                reraise(exc, call.where)
            # Its connection is closed (the next request opens one), or,
            # a challenge's, held for the caller (_held_body.HeldChallenge).
            content = b""
        # By position (method, url, status, reason, version, headers,
        # encoding, body, max_decoded_size): keywords cost twice as much here.
        response = Response(
            call.method,
            call.url.text,
            head.status_code,
            head.reason.decode("latin-1"),
            head.http_version.decode("ascii"),
            headers,
            encoding,
            content,
            self.max_decoded_size,
        )
        response._elapsed = elapsed
        if headers.has(b"set-cookie"):
            _attach_cookies(response, call.url)
        return response

    async def _passed(
        self,
        call: Call,
        conn: ReadsWhole,
        head: h11.Response,
        headers: ResponseHeaders,
        options: _Options,
        elapsed: float,
    ) -> Response:
        """A response the call goes past (a redirect, a challenge), read whole.

        Buffered, its body is bounded as the final one's is (``max_body_size``).
        A streamed call (or one with a callback) was promised memory bounded
        whatever the server sends: past ``_PASSED_BODY_LIMIT`` bytes (or
        ``max_body_size``, if smaller) the body is not read on, its
        connection is closed instead, and the response keeps an empty body.
        (A challenge's *conn* is a :class:`HeldChallenge`, which keeps the
        connection open there: a challenge declined is the final response,
        and that gets all of its body.) Event hooks wrap this step
        (``_hooks.install``).
        """
        # The class's step, not the instance's: hooks run on this one.
        return await CallLoop._buffered(
            self,
            call,
            conn,
            head,
            headers,
            options.encoding,
            elapsed,
            *self._passed_bound(options),
        )

    def _passed_bound(self, options: _Options) -> tuple[int | None, bool]:
        """How much of a passed response's body to read, and whether past it is dropped."""
        if not options.stream and options.callback is None:
            return self.max_body_size, False
        limit = self.max_body_size
        return (_PASSED_BODY_LIMIT if limit is None else min(limit, _PASSED_BODY_LIMIT)), True

    async def _retried(
        self,
        call: Call,
        conn: HTTP11Connection,
        head: h11.Response,
        headers: ResponseHeaders,
        options: _Options,
        elapsed: float,
    ) -> Response | None:
        """A response about to be retried, read whole; None if its body could not be.

        Why: the retry is already decided and this body is only kept for
        ``history``. A busy server that cuts it short (or one past
        ``max_body_size``) must not end the call with that error instead of
        retrying, as it did; the failed read has closed the connection, so
        the retry goes out on a new one. (A streamed call's is bounded as in
        :meth:`_passed`, kept with an empty body past the bound.) Event
        hooks wrap this step too (``_hooks.install``): a hook's own
        exception still ends the call.
        """
        try:
            # The class's step, not the instance's: hooks run on the result.
            return await CallLoop._passed(self, call, conn, head, headers, options, elapsed)
        except AsksException:
            return None

    async def _final_response(
        self,
        call: Call,
        conn: BodySource,
        head: h11.Response,
        headers: ResponseHeaders,
        options: _Options,
        elapsed: float,
    ) -> BaseResponse:
        """A streamed response, or one whose body goes to the callback."""
        # Not the hot path (that is _buffered, spelled out there), so the
        # fields the two kinds share are gathered once.
        fields: dict[str, Any] = {
            "method": call.method,
            "url": call.url.text,
            "status_code": head.status_code,
            "reason_phrase": head.reason.decode("latin-1"),
            "http_version": head.http_version.decode("ascii"),
            "headers": headers,
            "encoding": options.encoding,
        }
        response: BaseResponse
        if options.stream:
            response = StreamResponse(body=self._stream_body(call, conn, headers), **fields)
            response._elapsed = elapsed
        else:
            assert options.callback is not None
            # Decoded pieces go to the callback as they arrive; nothing is kept.
            async with self._stream_body(call, conn, headers) as body:
                async for chunk in body:
                    await options.callback(chunk)
            response = Response(body=b"", max_decoded_size=self.max_decoded_size, **fields)
            response._elapsed = elapsed
        _attach_cookies(response, call.url)
        return response

    async def _unanswered(
        self,
        call: Call,
        passed: Response,
        head: h11.Response,
        headers: ResponseHeaders,
        options: _Options,
        held: HeldChallenge,
    ) -> BaseResponse:
        """A challenge read (:meth:`_passed`) that ends the call, as a final response.

        Its body is served from memory, then (past the bound) from the
        connection (still as received: the stream undoes its coding as it
        would a socket's). The hooks saw it once already, as :meth:`_passed`
        returned it: the class's step, so not again.
        """
        body = held.final_body(passed.body)
        try:
            return await CallLoop._final_response(
                self, call, body, head, headers, options, passed._elapsed
            )
        except BaseException:
            # (A callback's failure has closed the body already; a no-op then.)
            await body.abort()
            raise

    # -- sending ---------------------------------------------------------------

    async def _exchange(
        self, call: Call, wire: tuple[tuple[bytes, bytes], ...], options: _Options
    ) -> tuple[HTTP11Connection, h11.Response, ResponseHeaders, float]:
        """Send the request and read the response head; ``retries`` applies here.

        Whatever goes wrong leaves as an asks exception (``_boundary``).
        """
        attempt = 0
        while True:
            try:
                return await self._transport.send(
                    call,
                    wire,
                    options.connection_timeout,
                    options.proxy,
                    options.pool_timeout,
                )
            except BodySourceFailed as failed:
                # The caller's own body source raised while the request went
                # out: that error is theirs, raised as it came (outside this
                # handler, so the wrapper is not chained to it), and never
                # retried - the request was cut short by the client, and the
                # body is spent.
                source_error = failed.error
            except Exception as exc:
                error = translate(exc, call.where)
                try:
                    if attempt < options.connection_retries and (
                        # Nothing was sent: safe to try again whatever the method.
                        isinstance(error, ConnectFailed)
                        or (
                            isinstance(error, ServerClosedConnectionError)
                            and call.method in IDEMPOTENT
                            and call.can_resend
                        )
                    ):
                        attempt += 1
                        continue
                    if error is exc:
                        raise
                    raise error from exc
                finally:
                    # The error's traceback holds this frame: were the frame
                    # to hold the error too, every failed request would stay
                    # a cycle for the garbage collector (37-56 objects).
                    del error
            try:
                raise source_error
            finally:
                del source_error  # as above


async def _check_proxy_answer(call: Call, conn: HTTP11Connection, head: h11.Response) -> None:
    """A 407 from a forwarding proxy is the proxy's refusal, not the origin's answer.

    Raises:
        ProxyError: the request was forwarded by a proxy (its credentials
            are missing or wrong); a 407 from an origin reached directly
            or through a tunnel stays a response.
    """
    route = conn.pool_key
    if type(route) is not ProxyRoute or route.kind != "forward":
        return
    await conn.abort()
    proxy = route.proxy
    what = "refused the credentials" if proxy.has_credentials else "wants credentials"
    reason = head.reason.decode("latin-1", "replace")
    raise ProxyError(f"{call.where}: proxy {proxy.url} {what} (407 {reason})", 407)


def _expects_continue(headers: Headers) -> bool:
    """Whether the request carries ``Expect: 100-continue`` (any case, any element)."""
    if "expect" not in headers:
        return False
    values = ",".join(headers.get_list("expect")).split(",")
    return any(value.strip().lower() == "100-continue" for value in values)


def _drop_expectation(call: Call) -> None:
    # The call's headers may be the session's own object: change a copy.
    # Expect has no other expectation defined (RFC 9110 section 10.1.1).
    headers = call.headers.copy()
    del headers["Expect"]
    call.headers = headers
    call.resent = False  # a new request: its own silent resend


def _make_tracker(persist: Any) -> CookieTracker | None:
    if persist is None or persist is False:
        return None
    import http.cookiejar

    from .cookie_utils import CookieTracker

    if persist is True:
        return CookieTracker()
    if isinstance(persist, CookieTracker):
        return persist
    if isinstance(persist, http.cookiejar.CookieJar):
        return CookieTracker(persist)
    raise TypeError(
        "persist_cookies must be True, an asks.cookie_utils.CookieTracker or an "
        f"http.cookiejar.CookieJar, not {type(persist).__name__}"
    )


def _attach_cookies(response: BaseResponse, url: URL) -> None:
    headers = response.headers
    # Asked first: the import below, though a lookup once the module is
    # loaded, costs ten times this test, and most responses set no cookie
    # (every streamed response comes through here).
    if not headers.has(b"set-cookie"):
        return
    from .cookie_utils import parse_response_cookies

    response.cookies = parse_response_cookies(headers, str(url), url.host, url.scheme)
