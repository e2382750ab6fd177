"""The two channel layers' changes (notifications/layers.py) keep Channels' behaviour."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from django.conf import settings

from notifications.layers import BatchingRedisChannelLayer, SweepingOncePerSecondInMemoryChannelLayer

EVENT = {"type": "task.changed", "request": 1, "status": "proposed", "change": "proposed"}


async def test_the_in_memory_layer_still_expires_messages_and_their_channels_group_memberships():
    layer = SweepingOncePerSecondInMemoryChannelLayer(expiry=0.05)
    stale, fresh = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("person-1", stale)
    await layer.group_add("person-1", fresh)
    await layer.send(stale, EVENT)
    await asyncio.sleep(0.1)
    layer._next_sweep = 0.0  # a second has passed
    await layer.group_send("person-1", EVENT)
    assert stale not in layer.groups["person-1"]  # its unread message expired
    assert await layer.receive(fresh) == EVENT


async def test_the_in_memory_layer_sweeps_at_most_once_a_second(monkeypatch):
    layer = SweepingOncePerSecondInMemoryChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("person-1", channel)
    sweeps = []
    monkeypatch.setattr("channels.layers.InMemoryChannelLayer._clean_expired", lambda self: sweeps.append(1))
    for _ in range(50):
        await layer.group_send("person-1", EVENT)
        await layer.receive(channel)
    assert len(sweeps) == 1


@pytest.fixture
async def redis_layer():
    if not settings.REDIS_URL:
        pytest.skip("needs Redis: set REDIS_URL")
    layer = BatchingRedisChannelLayer(
        hosts=[{"address": settings.REDIS_URL, "socket_timeout": 15}],
        prefix=f"test-layers-{uuid.uuid4().hex}",
        capacity=2000,
    )
    yield layer
    connection = layer.connection(0)
    keys = [key async for key in connection.scan_iter(match=f"{layer.prefix}*")]
    if keys:
        await connection.delete(*keys)  # only this test's prefix: the Redis is shared
    await layer.close_pools()


async def test_group_send_many_reaches_exactly_the_members_of_each_group_in_order(redis_layer):
    layer = redis_layer
    alone, shared_a, shared_b, outsider = [await layer.new_channel() for _ in range(4)]
    await layer.group_add("person-1", alone)
    await layer.group_add("community-7", shared_a)
    await layer.group_add("community-7", shared_b)
    deliveries = [("person-1", {**EVENT, "request": number}) for number in range(150)]
    deliveries += [("community-7", {**EVENT, "request": 999}), ("person-404", EVENT)]
    await layer.group_send_many(deliveries)
    # All in one queue before anyone reads: the batched receive hands each its own, in order.
    heard = [(await layer.receive(alone))["request"] for _ in range(150)]
    assert heard == list(range(150))
    assert (await layer.receive(shared_a))["request"] == 999
    assert (await layer.receive(shared_b))["request"] == 999
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await layer.receive(outsider)


async def test_group_send_many_stores_what_group_send_stores(redis_layer):
    layer = redis_layer
    channel = await layer.new_channel()
    await layer.group_add("person-1", channel)
    await layer.group_send("person-1", EVENT)
    await layer.group_send_many([("person-1", EVENT)])
    assert await layer.receive(channel) == EVENT
    assert await layer.receive(channel) == EVENT
