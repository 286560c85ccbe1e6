"""The arguments: what ``asks`` accepts, and what each option means for asks.

One argparse parser with a sub-parser per command: ``get`` and the other
verbs, ``request METHOD URL``, ``fetch [FILE]``; plus the URL form
(``asks URL`` is ``asks get URL``, see :mod:`.url_form`), which is argparse
seeing ``get`` put in front.

The options come in sets, each defined once as an :class:`OptionSet` (a
parent parser that also remembers which of its options take a value):

- :func:`shared_options`, the options of **every** command (headers, time
  limits, redirects, TLS, ``--quiet``). An option every command should take
  (``--proxy``, ``--http2``...) goes there, and what it means goes in
  :func:`session_kwargs` (a :class:`~asks.Session` setting) or
  :func:`request_kwargs` (a keyword of each request): both commands build
  their session and requests from those two, so nothing else changes, and
  the URL form learns the new option from the set itself;
- :func:`request_options`, the options of one request (query, body, auth,
  output);
- :func:`fetch_options`, those of ``asks fetch`` alone.

The value types check each value as argparse reads it, so a malformed
``-H`` or ``--timeout`` is a usage error (exit 2) naming it, before any
socket is opened.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .._headers import TOKEN
from .._proxies import Proxy
from .._version import __version__
from .exits import UsageError
from .url_form import UrlForm

METHODS = ("get", "head", "post", "put", "delete", "patch", "options")

EPILOG = """\
exit codes: 0 success (a 1xx-3xx response; fetch: every URL fetched), 4 a 4xx
response, 5 a 5xx response, 1 a failed request (fetch: any URL failed), 2 bad
arguments, 130 interrupted (Ctrl-C or SIGTERM), 141 stdout closed (broken
pipe)."""

_USAGE = """\
%(prog)s URL [OPTIONS]
       %(prog)s COMMAND ... [OPTIONS]"""

_DESCRIPTION = """\
An HTTP client on curio (HTTP/1.1, and HTTP/2 with --http2): one request, or a bulk fetch.

  asks https://example.org/                 GET it, the body on stdout
  asks example.org/page -H 'Accept: text/html' -o page.html
  asks localhost:8000/api -i                headers on stderr too
  asks post https://httpbin.org/anything --json '{"a": 1}'
  asks fetch urls.txt --connections 20 > results.jsonl

A first argument that is not a command but looks like a URL means 'get': it
has a scheme (https://...), or it is localhost, HOST:PORT, HOST/PATH or a
dotted name (example.org); without a scheme it is fetched over http://.
'asks get --help' lists the options of that form."""


# --------------------------------------------------------------------------
# Value types: each turns one word of the command line into a value, or
# refuses it with a message argparse prints (exit 2).


def _header(text: str) -> tuple[str, str | None]:
    """``-H 'Name: value'`` as ``(name, value)``, both stripped.

    As curl reads them: ``-H 'Name:'`` (no value) sends no such header, asks'
    own default of that name included (the value None); ``-H 'Name;'`` sends
    it with an empty value.
    """
    name, sep, value = text.partition(":")
    name = name.strip()
    if not sep:
        bare = text.strip()
        if bare.endswith(";") and bare[:-1].strip():
            return bare[:-1].strip(), ""
    if not sep or not name:
        raise argparse.ArgumentTypeError(
            f"expected 'Name: value' (or 'Name:' to send none, 'Name;' to send it empty), "
            f"got {text!r}"
        )
    value = value.strip()
    return name, value if value else None


def _header_name(text: str) -> str:
    """``--keep-header NAME``: a field name (RFC 9110 section 5.1: a token)."""
    name = text.strip()
    if not TOKEN.fullmatch(name):
        raise argparse.ArgumentTypeError(f"expected a header name, got {text!r}")
    return name


def _pair(text: str) -> tuple[str, str]:
    """``key=value`` (``-q``, ``-d``) as ``(key, value)``; the value may be empty."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return key, value


def _json_item(text: str) -> tuple[str, Any]:
    """``-j key=string`` or ``-j key:=JSON`` (httpie's notation) as ``(key, value)``."""
    key, sep, value = text.partition("=")
    if not sep or not key or key == ":":
        raise argparse.ArgumentTypeError(f"expected key=value or key:=JSON, got {text!r}")
    if key.endswith(":"):
        return key[:-1], _json_value(value)
    return key, value


def _json_value(text: str) -> Any:
    """A JSON document (``--json``, the value of ``-j key:=...``), parsed."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid JSON {text!r}: {exc}") from None


@dataclass(frozen=True)
class JsonDocument:
    """The parsed ``--json`` document; a wrapper, so that ``--json null`` is not "no --json"."""

    value: Any


def _json_document(text: str) -> JsonDocument:
    """``--json``: the whole body, any JSON document, ``null`` included."""
    return JsonDocument(_json_value(text))


def _credentials(text: str) -> tuple[str, str]:
    """``--auth user:password`` as ``(user, password)``; the password may hold colons."""
    user, sep, password = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError("expected user:password")
    return user, password


def _seconds(text: str) -> float:
    """A positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    return value


def _rate(text: str) -> float:
    """``--rate``: a positive, finite number of requests per second."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a number of requests per second: {text!r}"
        ) from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number per second: {text!r}")
    return value


def _shard(text: str) -> tuple[int, int]:
    """``--shard K/N`` (1-based, as job arrays count) as the zero-based ``(K - 1, N)``."""
    from .._partition import parse_shard

    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--shard ")) from None


def _count(minimum: int) -> Callable[[str], int]:
    """The type of a whole number of at least *minimum*."""

    def parse(text: str) -> int:
        """*text* as a whole number of at least *minimum*."""
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}: {text!r}")
        return value

    return parse


# --------------------------------------------------------------------------
# Option sets


class OptionSet:
    """A set of options: a parent parser, and which of its options take a value.

    Sub-parsers take the set with ``parents=[option_set.parser]``. The
    ``takes_value`` table is what the URL form needs to find the URL among
    the options (``-H 'A: b' URL``), read from argparse's own actions so it
    cannot disagree with the parser.
    """

    def __init__(self, title: str) -> None:
        self.parser = argparse.ArgumentParser(add_help=False)
        self.group = self.parser.add_argument_group(title)
        self.takes_value: dict[str, bool] = {}

    def add(self, *flags: str, into: Any = None, **kwargs: Any) -> None:
        """Add one option (``argparse`` arguments), to *into* if given.

        Args:
            *flags: the option strings, e.g. ``"-H", "--header"``.
            into: a mutually exclusive group of this set (default: the set's group).
            **kwargs: as for :meth:`argparse.ArgumentParser.add_argument`.
        """
        action = (into if into is not None else self.group).add_argument(*flags, **kwargs)
        for flag in action.option_strings:
            self.takes_value[flag] = action.nargs != 0


def shared_options() -> OptionSet:
    """The options of every command: the one place to add such an option.

    Returns:
        the set; what each option means is in :func:`session_kwargs` and
        :func:`request_kwargs`.
    """
    options = OptionSet("options of every command")
    options.add(
        "-H",
        "--header",
        dest="headers",
        action="append",
        type=_header,
        default=[],
        metavar="'NAME: VALUE'",
        help="send this header (repeatable); 'NAME:' sends none (not even asks' own), "
        "'NAME;' sends it empty",
    )
    options.add(
        "-A",
        "--user-agent",
        metavar="NAME",
        help="send this User-Agent (as -H 'User-Agent: NAME')",
    )
    options.add(
        "--timeout",
        type=_seconds,
        metavar="S",
        help="seconds for the whole transfer of one URL: request, redirects and body "
        "(default: none; fetch: 60)",
    )
    options.add(
        "--connect-timeout",
        type=_seconds,
        metavar="S",
        help="seconds to establish each connection (DNS, TCP, TLS; default 60)",
    )
    options.add(
        "--retries",
        type=_count(0),
        default=None,
        metavar="N",
        help="extra attempts after a connection-level failure (default 1; fetch: the "
        "polite Retry, 3 retries with backoff on 429, 503 and connection failures)",
    )
    options.add(
        "--retry",
        type=_count(0),
        default=None,
        metavar="N",
        help=(
            "retry up to N times on 429, 502, 503, 504 and connection failures, with "
            "exponential backoff and Retry-After (asks.Retry(total=N); replaces --retries)"
        ),
    )
    options.add(
        "--no-follow", action="store_true", help="do not follow redirects (3xx is the answer)"
    )
    options.add(
        "--max-redirects",
        type=_count(0),
        default=20,
        metavar="N",
        help="fail after following N redirects (default 20)",
    )
    options.add(
        "--cacert",
        metavar="FILE",
        help="trust the CA certificate(s) in this PEM file for https "
        "(certificates are always verified)",
    )
    options.add(
        "--cert",
        metavar="FILE",
        help="present this client certificate (PEM; with its private key unless --key "
        "names another file) to https servers that ask for one",
    )
    options.add(
        "--key",
        metavar="FILE",
        help="the private key (PEM, not encrypted) of --cert",
    )
    options.add(
        "--unix-socket",
        metavar="PATH",
        help="connect to this Unix domain socket instead of the URL's host "
        "(the URL still gives Host and the path)",
    )
    options.add(
        "--proxy",
        metavar="URL",
        help="send every request through this proxy (http://, https://, socks4://, "
        "socks4a://, socks5://, socks5h://; user:password@ allowed); '' for none",
    )
    options.add(
        "--no-env",
        action="store_true",
        help="ignore HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY",
    )
    options.add(
        "--http2",
        action="store_true",
        help="offer HTTP/2 to https servers (ALPN h2, then http/1.1: the server picks)",
    )
    options.add(
        "--http2-prior-knowledge",
        action="store_true",
        help="speak HTTP/2 from the first byte, also to http:// URLs (h2c)",
    )
    options.add("--quiet", action="store_true", help="no progress bar (and for fetch, no summary)")
    return options


def request_options() -> OptionSet:
    """Options of a single request: query, body, auth, output.

    Returns:
        the set (``get``, the other verbs, ``request`` and the URL form take it).
    """
    options = OptionSet("request options")
    options.add(
        "-q",
        "--query",
        action="append",
        type=_pair,
        default=[],
        metavar="KEY=VALUE",
        help="add a query parameter (repeatable)",
    )
    body = options.group.add_mutually_exclusive_group()
    options.add(
        "--json",
        into=body,
        dest="json_doc",
        type=_json_document,
        metavar="JSON",
        help="send this JSON body",
    )
    options.add(
        "-j",
        "--json-item",
        into=body,
        action="append",
        type=_json_item,
        metavar="KEY=VALUE",
        help="build a JSON object body: key=string or key:=JSON (repeatable)",
    )
    options.add(
        "-d",
        "--data",
        into=body,
        action="append",
        type=_pair,
        metavar="KEY=VALUE",
        help="send a form field, application/x-www-form-urlencoded (repeatable)",
    )
    options.add(
        "--data-raw", into=body, metavar="STRING", help="send this text as the body (UTF-8)"
    )
    options.add(
        "--data-file", into=body, metavar="PATH", help="stream this file as the body ('-': stdin)"
    )
    options.add(
        "--auth", type=_credentials, metavar="USER:PASSWORD", help="HTTP Basic authentication"
    )
    options.add("--digest", action="store_true", help="use Digest authentication for --auth")
    options.add(
        "--netrc",
        action="store_true",
        help="HTTP Basic authentication from the netrc file ($NETRC, else ~/.netrc) "
        "entry of the URL's host",
    )
    options.add("--netrc-file", metavar="PATH", help="as --netrc, from this file")
    options.add(
        "-b",
        "--cookie",
        action="append",
        metavar="DATA|FILE",
        help="send cookies: 'NAME=VALUE; NAME2=VALUE2', or (no '=') load a Netscape-format "
        "cookie file, whose cookies go where they apply ('': no file, the cookie store on; "
        "repeatable: every string is sent, every file read)",
    )
    options.add(
        "-c",
        "--cookie-jar",
        metavar="FILE",
        help="write every cookie of the session to FILE (Netscape format) at the end",
    )
    options.add(
        "-o",
        "--output",
        metavar="FILE",
        help="write the body to FILE ('-': stdout) with a progress bar on stderr; "
        "an existing file is replaced only once the whole body arrived",
    )
    options.add(
        "-i",
        "--include",
        action="store_true",
        help="print the status line and headers of each response to stderr",
    )
    options.add(
        "-v",
        "--verbose",
        action="store_true",
        help="tell each step on stderr, as curl -v: '*' the connection (TCP, TLS, reuse), "
        "'>' the request head as sent (credentials hidden), '<' each response head",
    )
    options.add(
        "--no-decompress",
        action="store_true",
        help="write the body as received (do not undo Content-Encoding)",
    )
    return options


def fetch_options(fetch: argparse.ArgumentParser) -> None:
    """Add the arguments of ``asks fetch`` alone to its sub-parser."""
    fetch.add_argument(
        "source",
        nargs="?",
        default="-",
        metavar="FILE",
        help="the URLs, one per line; blank lines and lines starting with # are skipped "
        "(default '-': stdin)",
    )
    fetch.add_argument(
        "--connections",
        type=_count(1),
        default=10,
        metavar="N",
        help="requests (worker tasks) at once, over all hosts (default 10); idle "
        "connections to recent hosts are kept for reuse, up to 1000 or half the "
        "open-file limit",
    )
    fetch.add_argument(
        "--connections-per-host",
        type=_count(1),
        default=4,
        metavar="N",
        help="at most N of the connections to one host (scheme, host and port) at once; "
        "URLs of other hosts go on meanwhile (default 4)",
    )
    fetch.add_argument(
        "--rate",
        type=_rate,
        default=None,
        metavar="R",
        help="at most R requests per second to each host (scheme, host and port), evenly "
        "spaced; a request waits for its turn, within --timeout (default: no limit)",
    )
    fetch.add_argument(
        "--method", default="GET", metavar="METHOD", help="HTTP method (default GET)"
    )
    fetch.add_argument(
        "--output-dir",
        metavar="DIR",
        help="save each body in DIR under a safe name made from its URL",
    )
    fetch.add_argument(
        "--jsonl",
        default="-",
        metavar="OUT",
        help="write one JSON line per URL to OUT (default '-': stdout)",
    )
    fetch.add_argument(
        "--keep-header",
        action="append",
        type=_header_name,
        default=[],
        metavar="NAME",
        help='add this response header to each JSON line, under "headers" (repeatable)',
    )
    fetch.add_argument(
        "--resume",
        action="store_true",
        help="append to --jsonl OUT, skipping the URLs it already has (a torn last line "
        "from a crash is cut away and its URL fetched again)",
    )
    fetch.add_argument(
        "--retry-failed",
        action="store_true",
        help="with --resume: fetch the URLs that failed (or whose robots.txt was "
        "unreachable) again; their old lines are dropped",
    )
    fetch.add_argument(
        "--shard",
        type=_shard,
        default=None,
        metavar="K/N",
        help="fetch only shard K of N (1 <= K <= N), split by host the same way on every "
        "machine: for job arrays (Kubernetes indexed jobs, Slurm, GNU parallel)",
    )
    fetch.add_argument(
        "--robots",
        action="store_true",
        help="obey robots.txt: fetched once per origin, disallowed URLs skipped (reported "
        'with "skipped"), Crawl-delay made the origin\'s rate limit',
    )
    fetch.add_argument(
        "--processes",
        type=_count(1),
        default=None,
        metavar="N",
        help="run N worker processes, each with its own session, URLs split between them "
        "by host (so --connections-per-host and --rate hold for the whole run); the parent "
        "writes the one output (default: the usable cores; 1: no workers, all in this process)",
    )
    fetch.set_defaults(timeout=60.0)


# --------------------------------------------------------------------------
# The parser


def _build() -> tuple[argparse.ArgumentParser, UrlForm]:
    """The parser, and the URL form that rewrites a command line for it."""
    parser = argparse.ArgumentParser(
        prog="asks",
        usage=_USAGE,
        description=_DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"asks {__version__}")
    # prog: argparse would otherwise build the sub-parsers' from _USAGE.
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", prog=parser.prog
    )
    shared = shared_options()
    single = request_options()
    for name in METHODS:
        sub = commands.add_parser(
            name,
            # 'asks [get] URL': the help of get is the help of the URL form too.
            prog="asks [get]" if name == "get" else None,
            parents=[shared.parser, single.parser],
            help=(
                "send a HEAD request and write the status line and headers to stdout"
                if name == "head"
                else f"send {'an' if name == 'options' else 'a'} {name.upper()} request and "
                "write the body to stdout"
            ),
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument("url", metavar="URL")
        sub.set_defaults(method=name.upper())
    request = commands.add_parser(
        "request",
        parents=[shared.parser, single.parser],
        help="send a request with any method",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    request.add_argument("method", metavar="METHOD")
    request.add_argument("url", metavar="URL")
    fetch = commands.add_parser(
        "fetch",
        parents=[shared.parser],
        help="fetch many URLs through one session, writing a JSON line for each",
        description="Fetch every URL of FILE through one session with N connections "
        "(asks.fetch_many), writing one JSON line per URL as it completes: url, status, "
        "bytes, elapsed, error (and error_type, file, headers, skipped when they apply). "
        "Polite by default: at most 4 connections per host, retries with backoff on 429 "
        "and 503 honouring Retry-After.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fetch_options(fetch)
    url_form = UrlForm(
        command="get",
        commands=(*METHODS, "request", "fetch"),
        takes_value={**shared.takes_value, **single.takes_value},
        # Before the first positional argument these belong to asks itself
        # ('asks --help URL' is the main help), not to the URL form.
        own_options=frozenset({"-h", "--help", "--version"}),
    )
    return parser, url_form


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``asks`` command.

    Returns:
        an :class:`argparse.ArgumentParser` with one sub-command per method,
        ``request`` and ``fetch``. It parses the command forms only: the URL
        form is :func:`parse_args`'s rewrite in front of it.
    """
    return _build()[0]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse a command line, the URL form included.

    Args:
        argv: the arguments after the program name; ``None`` reads ``sys.argv``.

    Returns:
        the namespace; ``command`` names the command (``get`` for the URL form).

    Raises:
        SystemExit: ``--help``, ``--version``, or a usage error (argparse's
            message already printed), as :meth:`argparse.ArgumentParser.parse_args`.
    """
    parser, url_form = _build()
    words = list(sys.argv[1:] if argv is None else argv)
    if not words:
        parser.error("give a URL (asks https://example.org/) or a command (asks --help)")
    try:
        words = url_form.rewrite(words)
    except ValueError as exc:
        parser.error(str(exc))
    return parser.parse_args(words)


# --------------------------------------------------------------------------
# What the shared options mean


def ssl_context(
    cacert: str | None, cert: str | None = None, key: str | None = None
) -> ssl.SSLContext | None:
    """The TLS context of ``--cacert``, ``--cert`` and ``--key``.

    The default context (certificates verified), trusting *cacert* when
    given, and presenting the client certificate *cert* when given.

    Args:
        cacert: a PEM file of CA certificates, or ``None``.
        cert: a PEM client certificate (its key in the same file unless
            *key* is given), or ``None``.
        key: the PEM private key of *cert*, or ``None``.

    Returns:
        the context, or ``None`` for asks' default one.

    Raises:
        UsageError: a file cannot be loaded, or ``--key`` comes without
            ``--cert``.
    """
    if key is not None and cert is None:
        raise UsageError("--key goes with --cert")
    if cacert is None and cert is None:
        return None
    try:
        context = ssl.create_default_context(cafile=cacert)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot load --cacert {cacert!r}: {exc}") from None
    if cert is not None:
        _load_client_certificate(context, cert, key)
    return context


def _refuse_passphrase() -> bytes:
    # Without a callback OpenSSL would prompt on the terminal, from inside
    # the kernel, or hang a job with no terminal; asks asks nothing.
    raise ValueError("the key is encrypted (asks does not prompt for a passphrase)")


def _load_client_certificate(context: ssl.SSLContext, cert: str, key: str | None) -> None:
    """``load_cert_chain`` with every failure a usage error naming the files."""
    if ":" in cert and not os.path.exists(cert):
        # curl's --cert FILE:PASSPHRASE: not taken, and the argument is not
        # repeated, for what follows the colon may be a passphrase.
        raise UsageError(
            "--cert names no file (FILE:PASSPHRASE, curl's form, is not taken: asks "
            "reads keys that are not encrypted)"
        )
    try:
        context.load_cert_chain(cert, key, password=_refuse_passphrase)
    except (OSError, ValueError) as exc:
        # ssl.SSLError is an OSError; its text ("[SSL] PEM lib") says little,
        # so say which files and what they were meant to hold.
        files = f"--cert {cert!r}" + ("" if key is None else f" and --key {key!r}")
        if isinstance(exc, ssl.SSLError):
            # OpenSSL's "[SSL] PEM lib (_ssl.c:3905)" names no cause; a
            # mismatch is the one it does name.
            if exc.reason == "KEY_VALUES_MISMATCH":
                detail = "the key does not belong to the certificate"
            else:
                detail = "not a PEM certificate with its private key"
        elif isinstance(exc, OSError):
            detail = exc.strerror or str(exc)
        else:
            detail = str(exc)
        raise UsageError(f"cannot load the client certificate from {files}: {detail}") from None


def session_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`~asks.Session` keywords of the options every command shares.

    Args:
        args: the parsed command line.

    Returns:
        keywords for ``Session(...)``.

    Raises:
        UsageError: an option's value cannot be used (a bad ``--cacert``,
            ``--cert`` or ``--key``, a bad ``--proxy`` or a bad proxy in the
            environment).
    """
    if args.unix_socket is not None:
        if not args.unix_socket:
            raise UsageError("--unix-socket needs a path")
        if args.proxy:
            # Every connection goes to the socket: there is no route left
            # for a proxy to take (the Session refuses both too).
            raise UsageError("--unix-socket and --proxy cannot be used together")
    http2: bool | str = False
    if args.http2_prior_knowledge:
        http2 = "prior-knowledge"
    elif args.http2:
        http2 = True
    return {
        "ssl_context": ssl_context(args.cacert, args.cert, args.key),
        "uds": args.unix_socket,
        "proxy": proxy(args.proxy),
        "trust_env": not args.no_env and args.proxy is None and _environment_usable(),
        "http2": http2,
    }


def proxy(url: str | None) -> Proxy | str | None:
    """The proxy of ``--proxy``, checked; ``""`` stays "no proxy".

    Raises:
        UsageError: not a usable proxy URL. The message never repeats the
            URL: it may hold a password.
    """
    if url is None or not url.strip():
        return url
    try:
        return Proxy(url)
    except ValueError as exc:
        raise UsageError(f"invalid --proxy: {exc}") from None


def _environment_usable() -> bool:
    """True; a proxy variable that is not a usable URL is a usage error here."""
    from .._proxy_env import EnvironmentProxies

    try:
        EnvironmentProxies()
    except ValueError as exc:
        raise UsageError(f"{exc} (--no-env ignores the environment)") from None
    return True


def request_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The request keywords of the options every command shares.

    Args:
        args: the parsed command line.

    Returns:
        keywords for each ``session.request(...)``.

    Raises:
        UsageError: ``-A`` empty, or given with ``-H 'User-Agent: ...'``.
    """
    kwargs: dict[str, Any] = {
        "retries": args.retries if args.retries is not None else 1,
        "follow_redirects": not args.no_follow,
        "max_redirects": args.max_redirects,
    }
    if args.retry is not None:
        from .._retry import Retry

        kwargs["retries"] = Retry(total=args.retry)
    headers = list(args.headers)
    if args.user_agent is not None:
        if any(name.lower() == "user-agent" for name, _ in headers):
            raise UsageError("give the User-Agent once: -A or -H 'User-Agent: ...'")
        if not args.user_agent.strip():
            raise UsageError("-A needs a name ('-H User-Agent:' sends none)")
        headers.append(("User-Agent", args.user_agent.strip()))
    if headers:
        kwargs["headers"] = headers
    if args.connect_timeout is not None:
        kwargs["connection_timeout"] = args.connect_timeout
    return kwargs
