"""asks._channel.Channel: the hand-over fetch_many passes every URL and result through."""

from __future__ import annotations

import curio

from asks._channel import Channel


async def test_items_come_out_in_the_order_they_went_in():
    channel: Channel[int] = Channel()
    for i in range(5):
        await channel.put(i)
    assert len(channel) == 5
    assert [await channel.get() for _ in range(5)] == [0, 1, 2, 3, 4]
    assert len(channel) == 0


async def test_a_get_waits_for_the_next_put():
    channel: Channel[str] = Channel()
    getter = await curio.spawn(channel.get)
    await curio.sleep(0)  # the getter is now waiting
    assert not getter.terminated
    await channel.put("x")
    assert await getter.join() == "x"


async def test_a_put_waits_while_the_channel_is_full():
    channel: Channel[int] = Channel(maxsize=2)
    await channel.put(1)
    await channel.put(2)
    putter = await curio.spawn(channel.put, 3)
    await curio.sleep(0)
    assert not putter.terminated and len(channel) == 2
    assert await channel.get() == 1
    await putter.join()
    assert [await channel.get(), await channel.get()] == [2, 3]


async def test_every_item_reaches_exactly_one_getter():
    channel: Channel[int] = Channel(maxsize=3)
    got: list[int] = []

    async def consume() -> None:
        while (item := await channel.get()) >= 0:
            got.append(item)

    async def produce(start: int) -> None:
        for i in range(start, start + 100):
            await channel.put(i)

    async with curio.TaskGroup() as consumers:
        for _ in range(4):
            await consumers.spawn(consume)
        async with curio.TaskGroup() as producers:
            for start in (0, 100, 200):
                await producers.spawn(produce, start)
        for _ in range(4):
            await channel.put(-1)
    assert sorted(got) == list(range(300))
    assert len(channel) == 0


async def test_a_cancelled_getter_takes_nothing():
    channel: Channel[str] = Channel()
    first = await curio.spawn(channel.get)
    second = await curio.spawn(channel.get)
    await curio.sleep(0)
    await first.cancel()
    await channel.put("x")
    assert await second.join() == "x"
    assert len(channel) == 0


async def test_a_cancelled_put_leaves_no_item():
    channel: Channel[str] = Channel(maxsize=1)
    await channel.put("a")
    putter = await curio.spawn(channel.put, "b")
    await curio.sleep(0)
    await putter.cancel()
    assert await channel.get() == "a"
    assert len(channel) == 0
