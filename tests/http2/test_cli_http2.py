"""``asks --http2`` and ``--http2-prior-knowledge``, as curl spells them."""

from __future__ import annotations

from pathlib import Path

import trustme

from tests.real.h2_fixtures import SMALL
from tests.real.hypercorn import Hypercorn
from tests.real.nginx import Nginx
from tests.test_cli import run_asks


def ca_file(tmp_path: Path, ca: trustme.CA) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def status_lines(stderr: bytes) -> list[str]:
    # Version and status; HTTP/2 has no reason phrase (RFC 9113 section 8.3.2).
    lines = stderr.decode().splitlines()
    return [" ".join(line.split()[:2]) for line in lines if line.startswith("HTTP/")]


def test_http2_offers_h2_and_the_head_says_http_2(
    nginx_h2: Nginx, tmp_path: Path, ca: trustme.CA
) -> None:
    url = nginx_h2.url("h2", "/files/small")
    result = run_asks("get", url, "--http2", "--cacert", ca_file(tmp_path, ca), "-i")
    assert result.returncode == 0, result.stderr
    assert status_lines(result.stderr) == ["HTTP/2 200"]
    assert result.stdout == SMALL


def test_without_the_flag_the_same_server_gets_http_1_1(
    nginx_h2: Nginx, tmp_path: Path, ca: trustme.CA
) -> None:
    url = nginx_h2.url("h2", "/files/small")
    result = run_asks("get", url, "--cacert", ca_file(tmp_path, ca), "-i")
    assert status_lines(result.stderr) == ["HTTP/1.1 200"]


def test_http2_falls_back_to_http_1_1_when_the_server_has_no_h2(
    nginx_h2: Nginx, tmp_path: Path, ca: trustme.CA
) -> None:
    url = nginx_h2.url("h1", "/files/small")
    result = run_asks("get", url, "--http2", "--cacert", ca_file(tmp_path, ca), "-i")
    assert result.returncode == 0, result.stderr
    assert status_lines(result.stderr) == ["HTTP/1.1 200"]


def test_http2_prior_knowledge_speaks_h2c_to_an_http_url(hypercorn_h2c: Hypercorn) -> None:
    result = run_asks("get", hypercorn_h2c.url("/version"), "--http2-prior-knowledge", "-i")
    assert result.returncode == 0, result.stderr
    assert status_lines(result.stderr) == ["HTTP/2 200"]
    assert result.stdout == b"2"


def test_prior_knowledge_to_an_http_1_1_server_is_one_clear_error(nginx_h2: Nginx) -> None:
    result = run_asks("get", nginx_h2.url("http", "/"), "--http2-prior-knowledge")
    assert result.returncode != 0
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("asks: error: ") and "HTTP/1" in lines[0]


def test_help_names_both_flags() -> None:
    text = run_asks("get", "--help").stdout.decode()
    assert "--http2 " in text and "--http2-prior-knowledge" in text
