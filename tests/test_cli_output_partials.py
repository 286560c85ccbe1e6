"""``-o FILE``'s ``.part`` file: named for its writer, locked, swept by the next run.

The body goes to ``.FILE.PID.RANDOM.part`` beside ``FILE``, renamed over it
once whole. A run killed on the spot (``kill -9``) leaves that file; the next
``-o FILE`` run removes it, and only it: the files of other target names, of
a live writer (by its pid, or by its lock) stay.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.cli_children import ASKS, CHILD_DEADLINE, dead_pid, held_elsewhere
from tests.test_cli import arun_asks
from tests.test_cli_fetch_resume import StallFirstBody

pytestmark = CHILD_DEADLINE  # a hung child fails its test, not the deadline


async def test_a_killed_runs_output_partial_file_goes_with_the_next_run(
    raw_server: Any, tmp_path: Path
) -> None:
    server = StallFirstBody()
    started = await raw_server(server)
    target = tmp_path / "big.bin"
    command = [*ASKS, "get", f"{started.url}/big", "-o", str(target), "--retries", "0"]

    dead, writing = await server.kill_mid_body(command, tmp_path)
    # Made before the request went out, named for its writer's pid.
    assert writing.startswith(f".big.bin.{dead}.") and writing.endswith(".part")
    (left,) = os.listdir(tmp_path)
    assert left.startswith(f".big.bin.{dead}.")  # what kill -9 left, for ever until now
    # Not this run's to remove: a live process's file of the same target (this
    # test's pid), a dead writer's whose lock is held (a run elsewhere), and
    # a dead writer's file of another target name in the same directory.
    live = tmp_path / f".big.bin.{os.getpid()}.abcdefgh.part"
    live.write_bytes(b"half")
    other = tmp_path / f".other.bin.{dead}.ijklmnop.part"
    other.write_bytes(b"half")
    elsewhere = tmp_path / f".big.bin.{dead}.qrstuvwx.part"
    with held_elsewhere(elsewhere):
        result = await arun_asks(*command[3:])
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(tmp_path)) == sorted(
        [target.name, live.name, other.name, elsewhere.name]
    )
    assert target.read_bytes() == b"x" * StallFirstBody.HALF + b"y" * StallFirstBody.HALF


def test_the_stale_partial_files_of_one_target_name_only(tmp_path: Path) -> None:
    from asks._cli.partials import remove_stale_partial_files

    pid = dead_pid()
    names = [
        f".out.tar.gz.{pid}.k2j4h5g6.part",  # removed
        f".out.tar.gz.{os.getpid()}.k2j4h5g6.part",  # alive
        f".out.tar.{pid}.k2j4h5g6.part",  # another name, a prefix of this one
        f".gz.{pid}.k2j4h5g6.part",  # another name, a suffix of it
        f".xout.tar.gz.{pid}.k2j4h5g6.part",
        "out.tar.gz",
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    assert remove_stale_partial_files(str(tmp_path), name="out.tar.gz") == 1
    assert sorted(os.listdir(tmp_path)) == sorted(names[1:])


async def test_o_takes_a_name_as_long_as_the_file_system_allows(
    raw_server: Any, tmp_path: Path
) -> None:
    # 255 bytes (NAME_MAX) is a legal name, but ".NAME.PID.RANDOM.part"
    # beside it is 20-odd bytes longer: the run failed to open its file
    # ("File name too long") where curl -o writes it.
    from tests.servers import canned

    started = await raw_server(canned(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody"))
    name = "é" * 100 + "x" * 55  # 255 bytes in UTF-8, 155 characters
    assert len(os.fsencode(name)) == 255
    result = await arun_asks(f"{started.url}/", "-o", str(tmp_path / name))
    assert result.returncode == 0, result.stderr
    assert os.listdir(tmp_path) == [name]
    assert (tmp_path / name).read_bytes() == b"body"


def test_a_long_names_partial_file_is_shortened_and_still_told_its_writer(
    tmp_path: Path,
) -> None:
    from asks._cli.partials import remove_stale_partial_files
    from asks._filenames import open_partial

    name = "é" * 100 + "x" * 55
    fd, temp, lock = open_partial(tmp_path, name)
    os.close(fd)
    os.close(lock)
    made = os.path.basename(temp)
    assert len(os.fsencode(made)) <= 255
    assert made.startswith(".é") and made.endswith(".part") and f".{os.getpid()}." in made
    # Its pid alive (ours): it stays; a dead writer's file of the same shortened
    # name goes, and one of another long name sharing the start stays.
    dead = made.replace(f".{os.getpid()}.", f".{dead_pid()}.")
    os.rename(temp, tmp_path / dead)
    other = tmp_path / name.replace("x", "y")
    assert remove_stale_partial_files(str(tmp_path), name=other.name) == 0
    assert remove_stale_partial_files(str(tmp_path), name=name) == 1
    assert os.listdir(tmp_path) == []
