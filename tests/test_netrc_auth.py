"""``asks.NetRCAuth``: Basic credentials from a netrc file, by the request's host."""

from __future__ import annotations

import base64
import netrc
from pathlib import Path

import pytest

import asks
from asks.auth import AuthRequest

NETRC = """\
machine api.example.org login alice password s3cret
machine Upper.Example.ORG login bob password pw2
default login anon password guest
"""


def _netrc(tmp_path: Path, text: str = NETRC) -> Path:
    path = tmp_path / "netrc"
    path.write_text(text)
    path.chmod(0o600)
    return path


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def _headers_for(auth: asks.NetRCAuth, url: str) -> dict[str, str]:
    return await auth(AuthRequest(method="GET", url=url, target="/", body=b""))


async def test_each_host_gets_its_own_entry_and_others_the_default(tmp_path):
    auth = asks.NetRCAuth(_netrc(tmp_path))
    assert await _headers_for(auth, "https://api.example.org/x") == _basic("alice", "s3cret")
    assert await _headers_for(auth, "https://other.example/") == _basic("anon", "guest")


async def test_host_names_match_without_case_port_or_trailing_dot(tmp_path):
    auth = asks.NetRCAuth(_netrc(tmp_path))
    assert await _headers_for(auth, "https://upper.example.org:8443/") == _basic("bob", "pw2")
    assert await _headers_for(auth, "https://API.example.org./") == _basic("alice", "s3cret")


async def test_a_host_without_an_entry_and_no_default_gets_no_authorization(tmp_path):
    auth = asks.NetRCAuth(_netrc(tmp_path, "machine a.example login u password p\n"))
    assert await _headers_for(auth, "https://b.example/") == {}


async def test_the_file_named_by_netrc_is_read_when_none_is_given(tmp_path, monkeypatch):
    path = _netrc(tmp_path)
    monkeypatch.setenv("NETRC", str(path))
    auth = asks.NetRCAuth()
    assert auth.file == str(path)
    assert await _headers_for(auth, "https://api.example.org/") == _basic("alice", "s3cret")


def test_a_home_netrc_others_can_read_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("NETRC", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    home = tmp_path / ".netrc"
    home.write_text(NETRC)
    home.chmod(0o644)
    with pytest.raises(netrc.NetrcParseError, match="too permissive"):
        asks.NetRCAuth()
    home.chmod(0o600)
    assert asks.NetRCAuth().file == str(home)


def test_a_missing_file_is_an_oserror_and_a_bad_one_a_parse_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        asks.NetRCAuth(tmp_path / "absent")
    with pytest.raises(netrc.NetrcParseError):
        asks.NetRCAuth(_netrc(tmp_path, "machine\n"))


def test_a_login_basic_cannot_carry_is_refused_without_the_password(tmp_path):
    with pytest.raises(ValueError, match=r"'a\.example'") as caught:
        asks.NetRCAuth(_netrc(tmp_path, "machine a.example login u:v password hush\n"))
    assert "hush" not in str(caught.value)


def test_repr_names_the_file_never_a_credential(tmp_path):
    path = _netrc(tmp_path)
    text = repr(asks.NetRCAuth(path))
    assert str(path) in text
    assert "s3cret" not in text and "alice" not in text


async def test_netrc_credentials_against_httpbin(httpbin, tmp_path):
    path = _netrc(tmp_path, "machine 127.0.0.1 login carol password open-sesame\n")
    async with asks.Session(httpbin.url) as s:
        r = await s.get(path="/basic-auth/carol/open-sesame", auth=asks.NetRCAuth(path))
        assert r.status_code == 200
        assert r.json() == {"authenticated": True, "user": "carol"}
