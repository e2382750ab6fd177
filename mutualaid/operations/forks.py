"""A forked process never uses its parent's database connections.

A child made by fork() starts with copies of its parent's open connections and of Django's
PostgreSQL connection pool, whose idle connections are the parent's sockets to the server:
a query from each process on one socket and both wait for an answer the other one read
(seen as a daphne forked by the browser tests stuck on its database thread until its sockets
were killed). The pool's worker threads do not survive the fork either, so a child waiting
for a new connection from it waits for nothing.

After a fork the child forgets both; the next query opens its own connection or pool. The
inherited objects are kept, never closed nor collected: closing one from the child would end
the parent's session on the server.
"""

import os
import sys

from django.db import connections

# What the child inherited, kept alive so that nothing finalises it in the child.
inherited_from_parent: list[object] = []


def forget_inherited_connections() -> None:
    """In a child after fork(): drop the parent's connections and pools without closing them."""
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


def forget_inherited_connections_after_fork() -> None:
    os.register_at_fork(after_in_child=forget_inherited_connections)
