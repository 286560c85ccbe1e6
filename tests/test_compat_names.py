"""docs/migration.md's table of asks 2.4 names that are gone, checked against the code.

For every row: the asks 2.4 name really is gone (so the table lists nothing
that still works), and every name the "use instead" column points to exists.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest

import asks
from asks._headers import Headers
from asks.cookie_utils import CookieTracker

MIGRATION = Path(__file__).resolve().parent.parent / "docs" / "migration.md"
DOTTED = re.compile(r"(?:asks|curio|Session|Response|StreamBody|CookieTracker)(?:\.\w+)+")


def gone_table() -> list[tuple[str, str]]:
    text = MIGRATION.read_text(encoding="utf-8")
    section = text.split("## Names that are gone", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        rows.append((cells[0].strip("`"), cells[1]))
    return rows


ROWS = gone_table()


def roots() -> dict[str, Any]:
    response = asks.Response(
        method="GET",
        url="http://example.com/",
        status_code=200,
        reason_phrase="OK",
        http_version="1.1",
        headers=Headers(),
        encoding="utf-8",
        body=b"",
        max_decoded_size=None,
    )
    body = asks.StreamBody(None, None, None, None, "GET http://example.com/")  # type: ignore[arg-type]
    return {
        "Session": asks.Session(persist_cookies=True),
        "Response": response,
        "StreamBody": body,
        "CookieTracker": CookieTracker(),
    }


def resolve(name: str) -> object:
    """The object *name* denotes; AttributeError or ImportError when there is none."""
    first, *rest = name.split(".")
    if first in ("asks", "curio"):
        obj: object = importlib.import_module(first)
        path = first
        for part in rest:
            path += "." + part
            try:
                obj = getattr(obj, part)
            except AttributeError:
                obj = importlib.import_module(path)
        return obj
    obj = roots()[first]
    for part in rest:
        obj = getattr(obj, part)
    return obj


def test_the_table_is_found_and_names_the_issue_examples():
    gone = [name for name, _ in ROWS]
    assert len(ROWS) >= 30
    assert "Session._cookie_tracker.domain_dict" in gone
    assert "asks.base_funcs" in gone


@pytest.mark.parametrize(("name", "instead"), ROWS, ids=[name for name, _ in ROWS])
def test_a_gone_name_is_gone_and_its_replacement_exists(name, instead):
    with pytest.raises((AttributeError, ImportError)):
        resolve(name)
    replacements = [
        token for token in re.findall(r"`([^`]+)`", instead) if DOTTED.fullmatch(token)
    ]
    if not instead.startswith("none"):
        assert replacements, f"no replacement named for {name}"
    for token in replacements:
        resolve(token)


def test_what_the_docs_say_is_still_there_is_there():
    for name in [
        "asks.init",
        "asks.request",
        "asks.BasicAuth",
        "asks.DigestAuth",
        "asks.multipart.MultipartData",
        "asks.multipart.build_multipart_body",
    ]:
        resolve(name)
    asks.init("curio")  # accepted, does nothing


def test_a_plain_dict_can_be_assigned_to_session_headers():
    # docs/migration.md says it works (it used to say it did not).
    s = asks.Session()
    s.headers = {"X-Token": "1"}

    assert isinstance(s.headers, Headers)
    assert s.headers["x-token"] == "1"
