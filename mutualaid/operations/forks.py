"""A forked process starts afresh: its own database connections, its own worker thread.

A child made by fork() starts with copies of its parent's objects but only the thread that
forked. Two of those copies break it (seen in a daphne forked by the browser tests, its
sockets stuck until daphne killed them):
- asgiref's one thread for thread-sensitive work (every `database_sync_to_async` of a
  consumer runs there) is gone, yet its executor counts it as idle and never starts another:
  the child's first socket waits for the database forever;
- the open connections and Django's PostgreSQL connection pool are the parent's sockets to
  the server: a query from each process on one socket and both wait for an answer the
  other one read. The pool's worker threads are gone too.

So after a fork the child gets a new executor and forgets the connections and pools; the next
query opens its own. The inherited connections are kept, never closed nor collected: closing
one from the child would end the parent's session on the server.
"""

import os
import sys
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import AsyncToSync, SyncToAsync
from django.db import connections

# What the child inherited, kept alive so that nothing finalises it in the child.
inherited_from_parent: list[object] = []


def start_afresh_in_child() -> None:
    """In a child after fork(): new executors for thread-sensitive work, and none of the
    parent's database connections or pools (dropped, not closed)."""
    SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
    SyncToAsync.context_to_thread_executor.clear()
    AsyncToSync.loop_thread_executors.clear()

    postgresql = sys.modules.get("django.db.backends.postgresql.base")  # no pool if never loaded
    if postgresql is not None:
        inherited_from_parent.extend(postgresql.DatabaseWrapper._connection_pools.values())
        postgresql.DatabaseWrapper._connection_pools.clear()
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None:
            inherited_from_parent.append(connection.connection)
            connection.connection = None
            connection.in_atomic_block = False
            connection.needs_rollback = False


def start_afresh_after_fork() -> None:
    os.register_at_fork(after_in_child=start_afresh_in_child)
