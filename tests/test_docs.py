"""The documentation's code runs: every ```python block of README.md and docs/.

Each block is run as a reader would paste it, against a local server:

* the blocks of one page run in order in one namespace (a later block may use
  what an earlier one imported or defined), as the page is read;
* a block with a top-level ``await`` runs in a fresh curio kernel; a block
  that is a script (``curio.run(main)``) runs as it is;
* a block that defines ``async def test_*`` functions, or a ``main()`` it
  does not run itself, has them run;
* the names a fragment takes for granted are there: ``s`` (a Session on
  ``https://api.example.org``) and ``handle`` (does nothing with a chunk);
* every connection to a host that is not loopback goes to a local echo
  server (plain HTTP, whatever the scheme), which answers any path with
  JSON describing the request; MockServer's own 127.0.0.1 servers are left
  alone;
* the current directory holds the files the pages open (``beach.jpg``...).

A block that cannot run says so just before its fence, ``<!-- no-run:
reason -->``; ``<!-- then: CODE -->`` there adds a call to run after the
block (for a function the page defines and leaves to the reader to call).
A new block therefore runs by default. The examples/ scripts run as
programs.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import http.server
import importlib
import inspect
import json
import re
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import curio
import pytest

import asks
import asks.sessions
from asks._cli.arguments import build_parser
from asks._transport.backend import Stream
from asks._transport.connect import Dialer

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
# Files the pages open, made in the directory the blocks run in.
FILES = {"beach.jpg": b"\xff\xd8\xff\xe0 not really a jpeg", "app.log": b"a log line\n"}
FILES["backup.tar"] = b"\0" * 1024

_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[ \t]*$")
_MARK = re.compile(r"^\s*<!--\s*(?P<kind>no-run|then):\s*(?P<text>.*?)\s*-->\s*$")


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    code: str
    no_run: str | None  # the reason, when the page says the block cannot run
    then: str | None  # code to run after the block
    indented: bool = False  # the fence is indented (inside a list item)

    @property
    def where(self) -> str:
        name = self.page.relative_to(ROOT) if self.page.is_relative_to(ROOT) else self.page.name
        return f"{name}:{self.line}"


def python_blocks(page: Path) -> list[Block]:
    """The ```python blocks of a page, with the marker before each, if any."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if not fence or not fence.group("lang"):
            i += 1
            continue
        indent, lang, start = fence.group("indent"), fence.group("lang"), i
        i += 1
        body = []
        while i < len(lines) and lines[i].strip() != "```":
            line = lines[i]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            i += 1
        i += 1
        if lang not in ("python", "py"):
            continue
        previous = start - 1
        while previous >= 0 and not lines[previous].strip():
            previous -= 1
        mark = _MARK.match(lines[previous]) if previous >= 0 else None
        blocks.append(
            Block(
                page,
                start + 1,
                "\n".join(body) + "\n",
                mark.group("text") if mark and mark.group("kind") == "no-run" else None,
                mark.group("text") if mark and mark.group("kind") == "then" else None,
                bool(indent),
            )
        )
    return blocks


# --------------------------------------------------------------------------
# The local server every example host is sent to


class _Echo(http.server.BaseHTTPRequestHandler):
    """Answers any request with JSON describing it (a small httpbin)."""

    protocol_version = "HTTP/1.1"

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self) -> None:
        body = self._body()
        url = urllib.parse.urlsplit(self.path)
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        answer = json.dumps(
            {
                "id": 1,
                "method": self.command,
                "path": url.path,
                "args": urllib.parse.parse_qs(url.query),
                "headers": dict(self.headers.items()),
                "json": parsed,
                "length": len(body),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        if url.path == "/login":
            self.send_header("Set-Cookie", "session=abc; Path=/")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echo_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int]]:
    """The echo server, and every non-loopback connection sent to it."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    # Joined on close: no connection thread (or its socket) outlives the test.
    server.daemon_threads = False
    address = ("127.0.0.1", int(server.server_address[1]))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    real_open = Dialer.open_stream

    async def open_stream(self: Dialer, origin: Any, timeout: Any, *tracing: Any) -> Any:
        if origin.host in LOCAL_HOSTS:
            return await real_open(self, origin, timeout, *tracing)
        # Plain HTTP to the echo server, whatever the URL's scheme.
        return Stream(await curio.open_connection(*address))

    monkeypatch.setattr(Dialer, "open_stream", open_stream)
    try:
        yield address
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --------------------------------------------------------------------------
# Running a page


def _has_top_level_await(code: str) -> bool:
    tree = ast.parse(code)
    scopes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)

    def visit(node: ast.AST) -> bool:
        if isinstance(node, (ast.Await, ast.AsyncFor, ast.AsyncWith)):
            return True
        return any(
            visit(child) for child in ast.iter_child_nodes(node) if not isinstance(child, scopes)
        )

    return visit(tree)


async def _close_sessions(namespace: dict[str, Any]) -> None:
    for value in list(namespace.values()):
        if isinstance(value, asks.Session):
            await value.close()


def _run_code(code: str, namespace: dict[str, Any], where: str) -> None:
    compiled = compile(code, where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    if not _has_top_level_await(code):
        exec(compiled, namespace)
        return

    async def run() -> None:
        try:
            await eval(compiled, namespace)
        finally:
            await _close_sessions(namespace)

    curio.run(run)


def _calls_left_to_the_reader(code: str, before: set[str], namespace: dict[str, Any]) -> list[str]:
    names = []
    for name, value in namespace.items():
        if name in before or not inspect.iscoroutinefunction(value):
            continue
        takes_nothing = not inspect.signature(value).parameters
        if takes_nothing and (
            name.startswith("test_") or (name == "main" and "curio.run(" not in code)
        ):
            names.append(name)
    return names


def run_page(page: Path) -> tuple[list[str], list[str]]:
    """Run a page's blocks; the places of those run and of those skipped."""
    namespace: dict[str, Any] = {
        "__name__": "__docs__",
        "asks": asks,
        "curio": curio,
        "s": asks.Session("https://api.example.org"),
        "handle": lambda chunk: None,
    }
    ran, skipped = [], []
    try:
        for block in python_blocks(page):
            if block.no_run is not None:
                skipped.append(block.where)
                continue
            before = set(namespace)
            _run_code(block.code, namespace, block.where)
            for name in _calls_left_to_the_reader(block.code, before, namespace):
                _run_code(f"await {name}()", namespace, f"{block.where} ({name})")
            if block.then:
                _run_code(block.then, namespace, f"{block.where} (then)")
            ran.append(block.where)
    finally:
        curio.run(_close_sessions, namespace)
    return ran, skipped


# --------------------------------------------------------------------------
# The tests


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_python_blocks_of_the_page_run(
    page: Path,
    echo_server: tuple[str, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, content in FILES.items():
        (tmp_path / name).write_bytes(content)
    monkeypatch.chdir(tmp_path)
    ran, skipped = run_page(page)
    blocks = python_blocks(page)
    assert len(ran) + len(skipped) == len(blocks)


def test_every_block_runs_or_says_why_not() -> None:
    blocks = [block for page in PAGES for block in python_blocks(page)]
    skipped = [block for block in blocks if block.no_run is not None]
    for block in skipped:
        assert block.no_run, f"{block.where}: a no-run marker needs a reason"
    # mkdocs' Markdown renders a fence inside a list item as plain text.
    assert [block.where for block in blocks if block.indented] == []
    # The parser still finds the blocks (a change of fence style would hide them all).
    assert len(blocks) >= 25
    assert len(blocks) - len(skipped) >= 20


def test_the_block_parser_reads_markers_and_indented_fences(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "text\n\n```python\nx = 1\n```\n\n<!-- no-run: needs a CA file -->\n\n"
        "```python\nopen('/nope')\n```\n\n* item\n\n  <!-- then: await f() -->\n"
        "  ```python\n  async def f():\n      pass\n  ```\n\n```bash\nls\n```\n"
    )
    found = python_blocks(page)
    assert [(b.line, b.code, b.no_run, b.then, b.indented) for b in found] == [
        (3, "x = 1\n", None, None, False),
        (9, "open('/nope')\n", "needs a CA file", None, False),
        (16, "async def f():\n    pass\n", None, "await f()", True),
    ]


def test_a_failing_block_fails_the_page(tmp_path: Path, echo_server: tuple[str, int]) -> None:
    page = tmp_path / "page.md"
    page.write_text("```python\nr = await asks.get('https://example.org/')\nr.nope\n```\n")
    with pytest.raises(AttributeError, match="nope"):
        run_page(page)


@pytest.mark.parametrize("script", ["quickstart.py", "testing_example.py"])
def test_the_examples_run(script: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


# --------------------------------------------------------------------------
# The docstrings (the API reference is made from them)


def _docstring_sources(path: Path) -> Iterator[tuple[int, str]]:
    """The line and source text of each docstring of a module."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for node in ast.walk(tree):
        if not isinstance(node, kinds) or not node.body:
            continue
        first = node.body[0]
        if not isinstance(first, ast.Expr) or not isinstance(first.value, ast.Constant):
            continue
        if isinstance(first.value.value, str):
            yield first.lineno, ast.get_source_segment(source, first.value) or ""


def test_no_docstring_turns_an_escape_it_shows_into_a_control_character() -> None:
    # ``\r\n`` in a docstring that is not raw becomes a real CR and LF: the
    # rendered text loses what it meant to show, and the CR breaks the page.
    # (An escaped backslash before the letter shows a backslash: fine.)
    escape = re.compile(r"(?<!\\)(?:\\\\)*\\[rntabfv0]")
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted((ROOT / "asks").rglob("*.py"))
        for line, text in _docstring_sources(path)
        if not text.lower().startswith(("r", "br", "rb")) and escape.search(text)
    ]
    assert found == []


# --------------------------------------------------------------------------
# The names and keywords the pages give


def _table_keys(page: Path, header: str) -> set[str]:
    """The backquoted first cells of the table whose header row starts with *header*."""
    keys: set[str] = set()
    rows = iter(page.read_text(encoding="utf-8").splitlines())
    for line in rows:
        if line.startswith(f"| {header} |"):
            break
    next(rows, None)  # the |---| row
    for line in rows:
        if not line.startswith("|"):
            break
        keys.update(re.findall(r"^\|\s*`(\w+)`", line))
    return keys


def test_every_keyword_of_a_request_is_in_the_table_and_taken() -> None:
    table = _table_keys(ROOT / "docs" / "requests.md", "keyword")
    named = set(inspect.signature(asks.Session.request).parameters) - {"self", "method", "url"}
    taken = (named - {"kwargs"}) | asks.sessions._KWARGS
    assert table == taken


def test_every_argument_of_a_session_is_in_the_table() -> None:
    table = _table_keys(ROOT / "docs" / "sessions.md", "argument")
    assert table == set(inspect.signature(asks.Session).parameters)


def test_every_asks_name_the_pages_use_exists() -> None:
    missing = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        # The names migration.md lists as gone, and names in quotes (a logger's,
        # a span attribute's), are not asks' attributes.
        text = re.sub(r"^## Names that are gone$.*?(?=^## )", "", text, flags=re.M | re.S)
        text = re.sub(r"[\"']asks\.[\w.]*[\"']", "", text)
        for dotted in sorted(set(re.findall(r"\basks(?:\.[A-Za-z_]\w*)+", text))):
            parts = dotted.split(".")
            obj: Any = asks
            for i, part in enumerate(parts[1:], 1):
                if not hasattr(obj, part) and inspect.ismodule(obj):
                    # A submodule not imported by the package (asks.testing).
                    with contextlib.suppress(ImportError):
                        importlib.import_module(".".join(parts[: i + 1]))
                if not hasattr(obj, part):
                    missing.append(f"{page.name}: {dotted}")
                    break
                obj = getattr(obj, part)
    assert missing == []


def test_the_docstring_of_session_request_names_every_keyword() -> None:
    doc = inspect.getdoc(asks.Session.request) or ""
    listed = doc.split("**kwargs:", 1)[1].split("Returns:", 1)[0]
    assert set(re.findall(r"``(\w+)``", listed)) == asks.sessions._KWARGS


def test_every_option_of_the_command_line_is_in_cli_md_and_no_other() -> None:
    options: set[str] = set()
    parsers = [build_parser()]
    while parsers:
        parser = parsers.pop()
        for action in parser._actions:
            options.update(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    named = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", text))
    assert options - named <= {"-h"}
    assert {name for name in named if name.startswith("--")} <= options


def test_every_file_of_the_source_tree_the_pages_name_exists() -> None:
    path = re.compile(r"(?<![\w/.-])(?:asks|benchmarks|examples|tests|\.ci)/[\w./-]*\w")
    missing = [
        f"{page.name}: {name}"
        for page in PAGES
        for name in sorted(set(path.findall(page.read_text(encoding="utf-8"))))
        if not (ROOT / name).exists()
    ]
    assert missing == []
