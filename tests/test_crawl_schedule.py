"""asks._crawl_schedule.Scheduler alone: the limits, the turns, swap's direct hand-over."""

from __future__ import annotations

import curio

from asks._crawl_schedule import Scheduler


async def test_urls_go_straight_out_while_slots_are_free():
    scheduler = Scheduler(concurrency=2, per_host=None, lookahead=10)
    await scheduler.add("a/1", "a")
    await scheduler.add("b/1", "b")
    assert (scheduler.out, scheduler.waiting) == (2, 0)
    assert [await scheduler.next(), await scheduler.next()] == [("a/1", "a"), ("b/1", "b")]


async def test_swap_hands_the_freed_slot_to_the_host_whose_turn_it_is():
    scheduler = Scheduler(concurrency=2, per_host=1, lookahead=10)
    for url, host in [("a/1", "a"), ("a/2", "a"), ("b/1", "b"), ("c/1", "c"), ("a/3", "a")]:
        await scheduler.add(url, host)
    first, second = await scheduler.next(), await scheduler.next()
    assert (first, second) == (("a/1", "a"), ("b/1", "b"))
    assert (scheduler.out, scheduler.waiting) == (2, 3)
    # a/1 is done: a's next URL was waiting longest for a turn (a became
    # ready again when its slot freed, after c), so c goes first.
    assert await scheduler.swap("a") == ("c/1", "c")
    assert await scheduler.swap("b") == ("a/2", "a")
    # One URL of a at a time (per_host=1): a/3 waits for a/2, and so does
    # the worker that finished c/1.
    worker = await curio.spawn(scheduler.swap, "c")
    await curio.sleep(0)
    assert not worker.terminated and (scheduler.out, scheduler.waiting) == (1, 1)
    await scheduler.done("a")
    assert await worker.join() == ("a/3", "a")


async def test_swap_never_gives_a_host_more_than_its_share():
    scheduler = Scheduler(concurrency=3, per_host=1, lookahead=10)
    for i in range(3):
        await scheduler.add(f"a/{i}", "a")
    await scheduler.add("b/0", "b")
    assert await scheduler.next() == ("a/0", "a")
    assert await scheduler.next() == ("b/0", "b")
    # b's slot frees while a/0 is still out: nothing of a may go, and
    # nothing else waits, so the worker waits in the channel.
    worker = await curio.spawn(scheduler.swap, "b")
    await curio.sleep(0)
    assert not worker.terminated and scheduler.out == 1
    await scheduler.done("a")  # a/0 done: a/1 goes, to the waiting worker
    assert await worker.join() == ("a/1", "a")
    assert await scheduler.swap("a") == ("a/2", "a")


async def test_swap_ends_the_worker_once_the_input_is_done():
    scheduler = Scheduler(concurrency=2, per_host=None, lookahead=10)
    await scheduler.add("a/1", "a")
    assert await scheduler.next() == ("a/1", "a")
    await scheduler.close()
    idle = await curio.spawn(scheduler.next)
    assert await scheduler.swap("a") is None
    assert await idle.join() is None
    assert (scheduler.out, scheduler.waiting) == (0, 0)


async def test_the_reader_waits_for_the_backlog_to_halve_and_swap_wakes_it():
    scheduler = Scheduler(concurrency=1, per_host=None, lookahead=4)
    await scheduler.add("a/0", "a")
    assert await scheduler.next() == ("a/0", "a")
    for i in range(1, 4):
        await scheduler.add(f"a/{i}", "a")
    reader = await curio.spawn(scheduler.add, "a/4", "a")  # the fourth waiting: full
    await curio.sleep(0)
    assert not reader.terminated and scheduler.waiting == 4
    assert await scheduler.swap("a") == ("a/1", "a")
    await curio.sleep(0)
    assert not reader.terminated  # 3 waiting: above half the lookahead
    assert await scheduler.swap("a") == ("a/2", "a")
    await reader.join()  # 2 waiting: the reader reads on
    assert scheduler.waiting == 2
