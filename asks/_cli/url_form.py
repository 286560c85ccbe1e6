"""The URL form: ``asks https://example.org/`` is ``asks get https://example.org/``.

curl, httpie and httpx take a bare URL as their first argument, so that is
what a person types first. argparse cannot say "a command, or else a URL":
a sub-parser's choices are fixed words. So the command line is looked at
once before argparse sees it (:meth:`UrlForm.rewrite`): when its first
positional argument is not a command but looks like a URL, ``get`` is put
in front, and from there on it *is* the ``get`` command, with every one of
its options, before or after the URL, ``--`` included.

Finding the first positional argument needs to know which options take a
value (in ``-H 'A: b' URL``, ``A: b`` is not the URL). That table comes from
the option sets themselves (:class:`~asks._cli.arguments.OptionSet`), so an
option added to them later works in the URL form with no change here. The
scan follows argparse's own reading: ``--name=value``, ``-Hvalue``, short
flags run together (``-iH 'A: b'``), unambiguous prefixes of long options
(``--time 5``), ``--`` ending the options.

What looks like a URL (docs/cli.md says the same):

- a scheme and ``://`` (``https://x/``). Any scheme: ``asks ftp://x/`` is then
  refused by the request as an unsupported scheme, which says more than
  "unknown command";
- or, without a scheme, a host optionally followed by ``:PORT`` and by a
  path, query or fragment, where the host is ``localhost``, a dotted name
  (``example.org``, ``127.0.0.1``), a bracketed IPv6 address, or any name
  when a ``:PORT`` or a ``/`` follows it (``myhost:8080``, ``intranet/wiki``).

Such a URL is sent over ``http://``, as curl and httpie do; type
``https://`` for TLS. So a single word (no dot, colon or slash) other than
``localhost`` is never a URL: it is a command or a mistyped one, and gets an
error that names both readings. The same rule adds the scheme to the URL of
``asks get`` and the other single-request commands
(:func:`with_default_scheme`), so ``asks get localhost:8000`` and
``asks localhost:8000`` are one request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DEFAULT_SCHEME = "http://"

# RFC 3986 section 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# A host name label, loosely: letters (any script: IDNA names are welcome,
# the request encodes them), digits, '-' and '_' inside. The request checks
# the host properly; this only has to tell a host from a command word.
_LABEL = r"[^\W_](?:[\w-]*[^\W_])?"
_HOST_URL = re.compile(
    rf"(?P<host>\[[0-9A-Fa-f:.]+\]|{_LABEL}(?:\.{_LABEL})*\.?)"
    r"(?P<port>:[0-9]{1,5})?"
    r"(?P<rest>[/?#]\S*)?",
)


def has_scheme(text: str) -> bool:
    """Whether *text* starts with ``scheme://``."""
    return _SCHEME.match(text) is not None


def looks_like_url(text: str) -> bool:
    """Whether a first argument is a URL rather than a command (the rule above).

    Args:
        text: the argument.

    Returns:
        True for ``https://x/``, ``example.org``, ``localhost``,
        ``host:8080``, ``host/path``, ``[::1]:8000``...; False for a single
        word such as ``frobnicate``, and for anything with spaces.
    """
    if has_scheme(text):
        return True
    match = _HOST_URL.fullmatch(text)
    if match is None:
        return False
    host = match["host"]
    return bool(
        match["port"]
        or match["rest"] is not None
        or host.startswith("[")
        or "." in host.rstrip(".")
        or host.rstrip(".").lower() == "localhost"
    )


def with_default_scheme(url: str) -> str:
    """*url* with ``http://`` in front when it is a URL written without a scheme.

    Args:
        url: the URL argument of a single-request command.

    Returns:
        ``http://`` + *url* for ``example.org/x`` or ``localhost:8000``;
        anything else unchanged (the request then says what is wrong with it).
    """
    if not has_scheme(url) and looks_like_url(url):
        return DEFAULT_SCHEME + url
    return url


@dataclass(frozen=True)
class UrlForm:
    """Turns ``asks [OPTIONS] URL [OPTIONS]`` into ``asks get [OPTIONS] URL [OPTIONS]``.

    Attributes:
        command: the command the URL form stands for (``get``).
        commands: every command name; such a first word is left to argparse.
        takes_value: for each option string of *command*, whether it takes a value.
        own_options: options of the main parser; met before any positional
            argument, they leave the command line as it is (``asks --help``).
    """

    command: str
    commands: Sequence[str]
    takes_value: Mapping[str, bool]
    own_options: frozenset[str]

    def rewrite(self, argv: Sequence[str]) -> list[str]:
        """The command line argparse should see.

        Args:
            argv: the arguments after the program name.

        Returns:
            ``[command, *argv]`` when the first positional argument looks like
            a URL; *argv* unchanged when it is a command, or when there is no
            positional argument (argparse then says what is missing).

        Raises:
            ValueError: the first positional argument is neither a command nor
                a URL (the message says both).
        """
        words = list(argv)
        index = self._first_positional(words)
        if index is None:
            return words
        word = words[index]
        if word in self.commands:
            return words
        if looks_like_url(word):
            return [self.command, *words]
        raise ValueError(
            f"{word!r} is neither a command ({', '.join(self.commands)}) nor a URL "
            "(https://HOST/..., HOST/PATH, HOST:PORT, a dotted name or localhost)"
        )

    def _first_positional(self, words: Sequence[str]) -> int | None:
        """The index of the first word that is not an option or an option's value."""
        index = 0
        while index < len(words):
            word = words[index]
            if word == "--":
                return index + 1 if index + 1 < len(words) else None
            if word == "-" or not word.startswith("-"):
                return index
            if word in self.own_options:
                return None
            if word.startswith("--"):
                name, equals, _ = word.partition("=")
                if not equals and self._long_takes_value(name):
                    index += 1  # the next word is this option's value
            elif self._short_wants_next(word):
                index += 1
            index += 1
        return None

    def _long_takes_value(self, name: str) -> bool:
        """Whether ``--name`` takes a value, allowing argparse's unique prefixes.

        An unknown or ambiguous name is read as a flag: argparse reports it
        once the URL form has put the command in front.
        """
        if name in self.takes_value:
            return self.takes_value[name]
        matches = {v for flag, v in self.takes_value.items() if flag.startswith(name)}
        return matches == {True}

    def _short_wants_next(self, word: str) -> bool:
        """Whether ``-abc`` (flags run together) ends with an option whose value is next.

        The first letter that takes a value takes the rest of the word as its
        value, or the next word when it is the last letter.
        """
        for position in range(1, len(word)):
            if self.takes_value.get("-" + word[position], False):
                return position == len(word) - 1
        return False
