"""robots.txt for ``fetch_many(robots=True)``: fetched once per origin, cached.

RFC 9309 (the Robots Exclusion Protocol) decides what a fetch of
``/robots.txt`` means (section 2.3.1):

- a 2xx answer is parsed (:class:`RobotsRules`: ``*`` and ``$`` patterns,
  the groups naming the crawler combined, the longest match winning); its
  ``Crawl-delay`` (or ``Request-rate``, whichever is slower), not part of
  the RFC but what crawlers honour, becomes the origin's rate limit on the session, unless the
  session's own limit for it is slower already;
- a 4xx answer, 404 above all, means "no rules": everything is allowed
  (section 2.3.1.3), and so does a redirect chain longer than the session
  follows (section 2.3.1.2 allows that);
- a 5xx answer, a 429, or no answer at all (refused, TLS failed, nothing
  within :data:`ROBOTS_TIMEOUT` seconds)
  means the server cannot say, and section 2.3.1.4 says to assume complete
  disallow: every URL of the origin is skipped, with the reason
  ``"robots.txt unreachable"``. A 429 is counted here rather than with the
  4xx: a server asking for fewer requests is not granting all of them.

The rules apply to one origin, scheme, host and port (section 2.3). Many
tasks asking about one new origin at once wait for the one fetch the first
of them makes; if that task is cancelled (its URL's timeout, the run ending)
the next waiter fetches instead, so nobody waits for a fetch nobody makes.

The cache is bounded (``max_origins``, least recently used out first): a
crawl over a million hosts keeps the rules of the recent ones, and an origin
that comes back after eviction has its robots.txt fetched again. Evicting an
origin also lifts the rate the session got from its ``Crawl-delay``, so the
limiter's per-origin settings stay bounded too.
"""

from __future__ import annotations

import math
import re
import string
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

import curio

from ._rate import limiter_of
from ._transport.trap_cycles import break_trap_cycle
from ._urls import _SAFE_QUERY, Origin, _quote, parse_url
from .errors import TooManyRedirects

if TYPE_CHECKING:
    from .sessions import Session

__all__ = ["DISALLOWED", "ROBOTS_TIMEOUT", "UNREACHABLE", "RobotsCache"]

# The skip reasons a result carries.
DISALLOWED = "robots.txt"
UNREACHABLE = "robots.txt unreachable"

# RFC 9309 section 2.5: parse at least 500 KiB; what lies beyond is ignored.
_MAX_ROBOTS_SIZE = 512 * 1024
# RFC 9309 section 2.3.1.2: follow at least five redirects.
_MAX_REDIRECTS = 5
# A robots.txt that takes longer than this, retries included, counts as
# unreachable: the URLs of its origin are waiting for it.
ROBOTS_TIMEOUT = 30.0


class _Verdict:
    """The rules of an origin that needs no parser: everything, or nothing."""

    __slots__ = ("skip",)

    def __init__(self, skip: str | None) -> None:
        self.skip = skip


_ALLOW_ALL = _Verdict(None)
_DISALLOW_ALL = _Verdict(UNREACHABLE)

_Rules: TypeAlias = "_Verdict | RobotsRules"


class _Fetching:
    """An origin whose robots.txt one task is fetching; the others wait here."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = curio.Event()


class RobotsCache:
    """The robots.txt rules of each origin a run meets, for one session.

    Args:
        session: the session that fetches robots.txt (and gets the crawl delays).
        user_agent: the product token matched against ``User-agent:`` lines.
        headers: request headers sent with each robots.txt request.
        max_origins: how many origins' rules are kept (least recently used
            out first).
        timeout: seconds one robots.txt may take, retries included; then
            the origin counts as unreachable.
    """

    def __init__(
        self,
        session: Session,
        user_agent: str,
        headers: Any = None,
        *,
        max_origins: int = 20_000,
        timeout: float = ROBOTS_TIMEOUT,
    ) -> None:
        self._session = session
        self._user_agent = user_agent
        self._headers = headers
        self._max_origins = max_origins
        self._timeout = timeout
        self._rules: OrderedDict[Origin, _Rules | _Fetching] = OrderedDict()
        self.fetches = 0  # robots.txt requests made, for tests and summaries

    async def skip_reason(self, url: str) -> str | None:
        """Why *url* must not be fetched, or None when it may be.

        Args:
            url: the URL about to be fetched.

        Returns:
            None, ``"robots.txt"`` (disallowed by the rules) or
            ``"robots.txt unreachable"`` (no rules could be had; RFC 9309
            section 2.3.1.4). A URL that does not parse is allowed here:
            fetching it reports what is wrong with it.
        """
        try:
            parsed = parse_url(url)
        except ValueError:
            return None
        origin = parsed.origin
        while True:
            entry = self._rules.get(origin)
            if entry is None:
                rules = await self._fetch(origin, parsed.scheme, parsed.authority)
                break
            if isinstance(entry, _Fetching):
                await entry.done.wait()
                continue  # fetched, or the fetching task gave up: look again
            self._rules.move_to_end(origin)
            rules = entry
            break
        if isinstance(rules, _Verdict):
            return rules.skip
        return None if rules.can_fetch(self._user_agent, parsed.target) else DISALLOWED

    async def _fetch(self, origin: Origin, scheme: str, host: str) -> _Rules:
        fetching = _Fetching()
        self._rules[origin] = fetching
        try:
            rules = await self._download(f"{scheme}://{host}/robots.txt")
        except BaseException:
            # Cancelled (a timeout, the run ending): let a waiter fetch instead.
            del self._rules[origin]
            await fetching.done.set()
            raise
        self._rules[origin] = rules
        await self._apply_delay(origin, rules)
        await fetching.done.set()
        self._evict()
        return rules

    def _evict(self) -> None:
        """Drop the least recently used origins beyond ``max_origins``."""
        # Each pass looks at every entry at most once: origins being fetched
        # are passed over (moved to the end), never dropped.
        for _ in range(len(self._rules)):
            if len(self._rules) <= self._max_origins:
                return
            old, old_rules = next(iter(self._rules.items()))
            if isinstance(old_rules, _Fetching):
                self._rules.move_to_end(old)
                continue
            del self._rules[old]
            self._forget_delay(old, old_rules)

    def close(self) -> None:
        """Forget every origin's rules, lifting the crawl delays they set.

        A run's rules last as long as the run: its delays are settings on
        the session, which would otherwise outlive it, and a long-lived
        session crawled run after run would keep one for every origin any
        run met (another run fetches robots.txt again, and sets them again).
        """
        rules, self._rules = self._rules, OrderedDict()
        for origin, entry in rules.items():
            if not isinstance(entry, _Fetching):
                self._forget_delay(origin, entry)

    async def _download(self, url: str) -> _Rules:
        self.fetches += 1
        try:
            async with curio.timeout_after(self._timeout):
                response = await self._session.request(
                    "GET", url, headers=self._headers, stream=True, max_redirects=_MAX_REDIRECTS
                )
                async with response:
                    status = response.status_code
                    if not 200 <= status < 300:
                        return _DISALLOW_ALL if status >= 500 or status == 429 else _ALLOW_ALL
                    text = await _read_text(response)
        except TooManyRedirects:
            return _ALLOW_ALL
        except curio.TaskTimeout as exc:  # this block's own deadline; the caller's passes through
            break_trap_cycle(exc)
            return _DISALLOW_ALL
        except Exception:  # refused, reset, TLS, a bad answer: nothing to go by
            return _DISALLOW_ALL
        return _parse(url, text)

    def _delay(self, rules: _Rules) -> float | None:
        """The requests per second the rules ask for, or None."""
        if isinstance(rules, _Verdict):
            return None
        rates: list[float] = []
        delay = rules.crawl_delay(self._user_agent)
        if delay is not None and float(delay) > 0:
            rates.append(1.0 / float(delay))
        rate = rules.request_rate(self._user_agent)
        if rate is not None and rate.requests > 0 and rate.seconds > 0:
            rates.append(rate.requests / rate.seconds)
        return min(rates) if rates else None

    async def _apply_delay(self, origin: Origin, rules: _Rules) -> None:
        per_second = self._delay(rules)
        if per_second is None:
            return
        limiter = limiter_of(self._session)
        current = limiter.limit_for(origin)
        # Held, not set: the session's own limit (``rate_limit=``, ``--rate``,
        # a set_rate) stays as it is and wins when it is as slow or slower
        # (a Crawl-delay asks for at least that spacing, never for more
        # requests than the caller allows), and comes back when the hold
        # goes (eviction, the end of the run).
        limiter.hold_rate(origin, per_second)
        if current is None or current.per_second > per_second:
            # The robots.txt request just made counts as the first of the
            # schedule: a fresh bucket grants this slot at once, and the
            # next request of the origin goes one delay later.
            await limiter.acquire(origin)

    def _forget_delay(self, origin: Origin, rules: _Rules) -> None:
        per_second = self._delay(rules)
        if per_second is not None:
            limiter_of(self._session).release_rate(origin, per_second)


class RequestRate(NamedTuple):
    """A ``Request-rate: requests/seconds`` line (as ``urllib.robotparser`` gives it)."""

    requests: int
    seconds: int


class _Rule:
    """One ``Allow`` or ``Disallow`` line: its pattern, normalised and compiled."""

    __slots__ = ("allow", "length", "pattern", "regex")

    def __init__(self, allow: bool, pattern: str) -> None:
        self.allow = allow
        self.pattern = pattern
        # RFC 9309 section 2.2.2: the most specific rule is the one with the
        # most octets (the pattern is ASCII once normalised).
        self.length = len(pattern)
        self.regex: re.Pattern[str] | None = None
        if "*" in pattern or pattern.endswith("$"):
            # Section 2.2.3: "*" is any sequence of characters, a final "$"
            # the end of the path.
            anchored = pattern.endswith("$")
            body = pattern[:-1] if anchored else pattern
            text = ".*".join(re.escape(piece) for piece in body.split("*"))
            self.regex = re.compile(text + (r"\Z" if anchored else ""), re.DOTALL)

    def matches(self, target: str) -> bool:
        if self.regex is None:
            return target.startswith(self.pattern)
        return self.regex.match(target) is not None


class _Group:
    """One group of a robots.txt: its user-agent tokens and what follows them."""

    __slots__ = ("agents", "delay", "rate", "rules")

    def __init__(self) -> None:
        self.agents: list[str] = []
        self.rules: list[_Rule] = []
        self.delay: float | None = None
        self.rate: RequestRate | None = None


class RobotsRules:
    """The rules of one robots.txt, matched as RFC 9309 section 2.2 says.

    ``urllib.robotparser`` (what asks used before) knows neither ``*`` nor
    ``$`` in a path, takes the first group whose name is a substring of the
    crawler's rather than combining every group naming it, and applies the
    first rule that matches rather than the most specific one; each of those
    lets a crawl fetch what the site disallowed.

    Args:
        text: the body of the robots.txt.
    """

    def __init__(self, text: str) -> None:
        self._groups: list[_Group] = []
        # Per user agent: the rules of its groups, most specific first, and
        # the delay and rate they ask for.
        self._chosen: dict[str, tuple[list[_Rule], float | None, RequestRate | None]] = {}
        group: _Group | None = None
        in_agents = False  # the last line was a user-agent line
        for raw in text.removeprefix("\ufeff").splitlines():
            key, sep, value = raw.partition("#")[0].partition(":")
            if not sep:
                continue
            key = key.strip().lower()
            value = value.strip()
            if key == "user-agent":
                # Section 2.2.1: user-agent lines in a row open one group; one
                # after a rule opens the next.
                if group is None or not in_agents:
                    group = _Group()
                    self._groups.append(group)
                in_agents = True
                token = "*" if value.startswith("*") else _product_token(value)
                if token:
                    group.agents.append(token)
                continue
            if group is None or key not in ("allow", "disallow", "crawl-delay", "request-rate"):
                continue  # before any group (or a sitemap, or unknown): not a rule
            in_agents = False
            if key in ("allow", "disallow"):
                if value:  # an empty path matches nothing
                    group.rules.append(_Rule(key == "allow", _normalise(value)))
            elif key == "crawl-delay":
                # Seconds, whole or not: "Crawl-delay: 2.5" is as common as
                # "Crawl-delay: 2" (robotparser read only whole numbers, so it
                # dropped such a delay and the origin got no limit at all).
                if group.delay is None:
                    group.delay = _seconds(value)
            else:
                requests, slash, seconds = value.partition("/")
                digits = requests.strip().isdigit() and seconds.strip().isdigit()
                if slash and digits and group.rate is None:
                    group.rate = RequestRate(int(requests), int(seconds))

    def _for(self, user_agent: str) -> tuple[list[_Rule], float | None, RequestRate | None]:
        chosen = self._chosen.get(user_agent)
        if chosen is None:
            token = _product_token(user_agent)
            # Every group naming the crawler, combined (section 2.2.1); only
            # when none does, every "*" group.
            groups = [g for g in self._groups if token and token in g.agents]
            if not groups:
                groups = [g for g in self._groups if "*" in g.agents]
            rules = [rule for g in groups for rule in g.rules]
            # The longest pattern first and, of two as long, the allow
            # (section 2.2.2): the first that matches is the one that applies.
            rules.sort(key=lambda rule: (-rule.length, not rule.allow))
            delay = next((g.delay for g in groups if g.delay is not None), None)
            rate = next((g.rate for g in groups if g.rate is not None), None)
            chosen = self._chosen[user_agent] = (rules, delay, rate)
        return chosen

    def can_fetch(self, user_agent: str, target: str) -> bool:
        """Whether *user_agent* may fetch *target* (a URL's path and query)."""
        if target == "/robots.txt":
            return True  # section 2.2.2: implicitly allowed
        target = _normalise(target)
        for rule in self._for(user_agent)[0]:
            if rule.matches(target):
                return rule.allow
        return True

    def crawl_delay(self, user_agent: str) -> float | None:
        """The ``Crawl-delay`` of *user_agent*'s groups, in seconds, or None."""
        return self._for(user_agent)[1]

    def request_rate(self, user_agent: str) -> RequestRate | None:
        """The ``Request-rate`` of *user_agent*'s groups, or None."""
        return self._for(user_agent)[2]


def _seconds(value: str) -> float | None:
    """A ``Crawl-delay`` value: seconds above 0 whose rate is a number, else None."""
    try:
        seconds = float(value)
    except ValueError:
        return None
    return (
        seconds if seconds > 0 and math.isfinite(seconds) and math.isfinite(1 / seconds) else None
    )


def _product_token(user_agent: str) -> str:
    """The product token of a User-Agent, lower-cased: ``python-asks`` of ``python-asks/4.0``."""
    match = _TOKEN.match(user_agent.strip())
    return match.group(0).lower() if match else ""


_TOKEN = re.compile(r"[A-Za-z_-]+")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
# A path that _normalise returns as it is: no escape, nothing to encode.
_PLAIN = re.compile(rf"[A-Za-z0-9{re.escape(_SAFE_QUERY.replace('%', ''))}]*")


def _unescape(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _normalise(path: str) -> str:
    """A path (or a rule's pattern) as RFC 9309 section 2.2.2 compares them.

    Characters that are not ASCII (or may not appear in a URI) are
    percent-encoded as UTF-8; an encoded unreserved character is decoded
    and other escapes written in upper case, so ``/%7Ea`` and ``/~a`` are one
    path, and ``/caf%C3%A9`` and ``/café`` too.
    """
    if _PLAIN.fullmatch(path):
        return path
    # The characters parse_url leaves alone in a request target stay as they
    # are here too, so a rule and a URL spell a character the same way.
    return _ESCAPE.sub(_unescape, _quote(path, _SAFE_QUERY))


def _parse(url: str, text: str) -> RobotsRules:
    """The rules of a robots.txt fetched from *url*."""
    return RobotsRules(text)


async def _read_text(response: Any) -> str:
    """The body as text, at most :data:`_MAX_ROBOTS_SIZE` bytes of it (RFC 9309 2.3)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.body:
        chunks.append(chunk)
        size += len(chunk)
        if size >= _MAX_ROBOTS_SIZE:
            break
    return b"".join(chunks)[:_MAX_ROBOTS_SIZE].decode("utf-8", "replace")
