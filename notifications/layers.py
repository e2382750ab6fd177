"""Channels' two layers, each with the changes that bursts of live events and sockets needed.

Settings pick them (`CHANNEL_LAYERS`); docs/live.md says why and what each changed.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import defaultdict

from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from redis.asyncio import BlockingConnectionPool

logger = logging.getLogger(__name__)


class SweepingOncePerSecondInMemoryChannelLayer(InMemoryChannelLayer):
    """`InMemoryChannelLayer` whose expiry sweep runs at most once per `sweep_seconds`.

    Channels calls `_clean_expired` at the start of every `group_send` and every `receive`,
    and it walks every channel with a queue (every connected socket: each consumer waits in
    `receive`) and every group. With 2,000 sockets that is some 4,000 dictionary walks per
    call, and a burst of 100 events makes about 200 calls: most of daphne's time in a burst.

    What the sweep enforces is coarse: a message unread for `expiry` (60 s) is dropped and
    its channel leaves its groups; a membership older than `group_expiry` (a day) ends.
    Neither needs a clock finer than a second; otherwise the layer is Channels' own.
    """

    sweep_seconds = 1.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._next_sweep = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.sweep_seconds
        super()._clean_expired()

    async def flush(self) -> None:
        await super().flush()
        self._next_sweep = 0.0


# channels_redis's group_send script (channels_redis/core.py, 4.x): for each channel key,
# add the message unless the channel is at capacity; returns how many were over capacity.
GROUP_SEND_SCRIPT = """
    local over_capacity = 0
    local current_time = ARGV[#ARGV - 1]
    local expiry = ARGV[#ARGV]
    for i=1,#KEYS do
        if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
            redis.call('ZADD', KEYS[i], current_time, ARGV[i])
            redis.call('EXPIRE', KEYS[i], expiry)
        else
            over_capacity = over_capacity + 1
        end
    end
    return over_capacity
"""


# Restore the in-flight messages of an interrupted receive (as channels_redis does before
# every BZPOPMIN), then pop up to ARGV[1] messages, keeping them in flight until handed on.
POP_MANY_SCRIPT = """
    local backed_up = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
    for i = #backed_up, 1, -2 do
        redis.call('ZADD', KEYS[1], backed_up[i], backed_up[i - 1])
    end
    redis.call('DEL', KEYS[2])
    local popped = redis.call('ZPOPMIN', KEYS[1], ARGV[1])
    for i = 1, #popped, 2 do
        redis.call('ZADD', KEYS[2], popped[i + 1], popped[i])
    end
    return popped
"""


class BatchingRedisChannelLayer(RedisChannelLayer):
    """channels_redis's layer, plus `group_send_many` (many group sends in two pipelined
    round trips per Redis host), and a daphne that reads a burst in a few round trips.

    `group_send` costs four round trips and some Python per group (expire members, read
    members, expire the channels' old messages, run the send script). A matching run tells
    100 people at once; sent one group at a time (even 16 at a time, the connection pool's
    comfortable bound) that took 40-50 ms on an idle machine and 60-270 ms on a busy one
    before the last message was in Redis. Here the same commands go as two pipelines: every
    group's members, then every channel's expiry and the same send script, so each message
    is stored exactly as `group_send` would store it.

    On the receiving side, every socket of a daphne shares one Redis queue, which
    channels_redis reads one message at a time, with three round trips each (restore the
    in-flight backup, BZPOPMIN, back the message up): 100 events cost daphne 300 round
    trips in a row. `receive_single` here takes whatever is waiting, up to
    `receive_batch`, in one script that keeps the same backup, hands the extra messages
    to their sockets' buffers (as channels_redis's `receive` does with the one it reads),
    and blocks in channels_redis's own way only when the queue is empty.
    """

    receive_batch = 100

    def __init__(self, *args, max_connections: int = 50, pool_wait_seconds: float = 20, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_connections = max_connections
        self.pool_wait_seconds = pool_wait_seconds

    def create_pool(self, index: int) -> BlockingConnectionPool:
        """A pool whose callers wait for a free connection (at most `pool_wait_seconds`).

        channels_redis's pool is redis-py's plain one, which fails the moment it holds
        `max_connections` (100 in redis-py 8): 500 sockets opening at once, each joining its
        groups, failed 96 times. Bounded and waiting, a burst only queues.
        """
        host = self.hosts[index].copy()
        if "address" not in host:
            return super().create_pool(index)  # a Sentinel set-up: channels_redis's own
        return BlockingConnectionPool.from_url(
            host.pop("address"), max_connections=self.max_connections, timeout=self.pool_wait_seconds, **host
        )

    async def data_epoch(self) -> bytes | None:
        """A token Redis keeps as long as it keeps the groups' members: a new one means it lost
        them (restarted without persistence, or flushed) while sockets stayed open.

        The first daphne to find the key missing sets it; every daphne compares what it read
        with what it read before. Only the first Redis host is asked (a sharded set-up loses
        its hosts one at a time; each restart of the first is seen)."""
        connection = self.connection(0)
        key = f"{self.prefix}data-epoch"
        await connection.set(key, uuid.uuid4().hex, nx=True)
        return await connection.get(key)

    async def not_members(self, memberships: list[tuple[str, str]]) -> set[str]:
        """The channels of these (group, channel) pairs that are not in their group (any more),
        in one pipelined round trip per host."""
        by_host: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for group, channel in memberships:
            by_host[self.consistent_hash(group)].append((group, channel))
        missing = set()
        for index, pairs in by_host.items():
            pipeline = self.connection(index).pipeline(transaction=False)
            for group, channel in pairs:
                pipeline.zscore(self._group_key(group), channel)
            for (_group, channel), score in zip(pairs, await pipeline.execute(), strict=True):
                if score is None:
                    missing.add(channel)
        return missing

    async def group_send_many(self, deliveries: list[tuple[str, dict]]) -> None:
        """`group_send(group, message)` for each pair, in two round trips per host."""
        now = time.time()
        members: dict[str, list[str]] = {}
        groups_by_host: dict[int, list[str]] = defaultdict(list)
        for group in dict.fromkeys(group for group, _message in deliveries):
            assert self.require_valid_group_name(group), "Group name not valid"
            groups_by_host[self.consistent_hash(group)].append(group)
        for index, groups in groups_by_host.items():
            pipeline = self.connection(index).pipeline(transaction=False)
            for group in groups:
                pipeline.zremrangebyscore(self._group_key(group), min=0, max=int(now) - self.group_expiry)
                pipeline.zrange(self._group_key(group), 0, -1)
            replies = await pipeline.execute()
            for group, names in zip(groups, replies[1::2], strict=True):
                members[group] = [name.decode("utf8") for name in names]

        sends_by_host: dict[int, list[tuple[str, list[bytes], list]]] = defaultdict(list)
        for order, (group, message) in enumerate(deliveries):
            # A queue is read in score order: one time per send keeps a channel's in order.
            sent_at = now + order * 1e-6
            by_host, message_for_key, capacity_for_key = self._map_channel_keys_to_connection(
                members[group], message
            )
            for index, keys in by_host.items():
                messages = [message_for_key[key] for key in keys]
                capacities = [capacity_for_key[key] for key in keys]
                sends_by_host[index].append((group, keys, [*messages, *capacities, sent_at, self.expiry]))
        for index, sends in sends_by_host.items():
            pipeline = self.connection(index).pipeline(transaction=False)
            for _group, keys, arguments in sends:
                for key in keys:
                    pipeline.zremrangebyscore(key, min=0, max=int(now) - int(self.expiry))
                pipeline.eval(GROUP_SEND_SCRIPT, len(keys), *keys, *arguments)
            replies = iter(await pipeline.execute())
            for group, keys, _arguments in sends:
                for _key in keys:
                    next(replies)
                over_capacity = next(replies)
                if over_capacity:
                    logger.info(
                        "%s of %s channels over capacity in group %s", over_capacity, len(keys), group
                    )

    async def receive_single(self, channel: str) -> tuple:
        if "!" not in channel:
            return await super().receive_single(channel)  # a normal channel: as channels_redis
        index = self.consistent_hash(channel)
        channel_key = self.prefix + channel
        backup_key = self._backup_channel_name(channel_key)
        connection = self.connection(index)
        await self.receive_clean_locks.acquire(channel_key)
        try:
            popped = await connection.eval(POP_MANY_SCRIPT, 2, channel_key, backup_key, self.receive_batch)
        except BaseException:
            self.receive_clean_locks.release(channel_key)
            raise
        if not popped:
            self.receive_clean_locks.release(channel_key)
            return await super().receive_single(channel)  # nothing waiting: block there
        contents = popped[0::2]
        # Handed on below without an await: the backup can go (as channels_redis's cleaner).
        cleaner = asyncio.ensure_future(connection.zrem(backup_key, *contents))
        self.receive_cleaners.append(cleaner)

        def cleaned(done: asyncio.Future) -> None:
            self.receive_cleaners.remove(done)
            self.receive_clean_locks.release(channel_key)

        cleaner.add_done_callback(cleaned)
        received = []
        for content in contents:
            message = self.deserialize(content)
            received.append((message.pop("__asgi_channel__", channel), message))
        # In order: the caller buffers the one returned, so that one must be the last.
        for targets, message in received[:-1]:
            for target in targets if isinstance(targets, list) else [targets]:
                self.receive_buffer[target].put_nowait(message)
        return received[-1]
