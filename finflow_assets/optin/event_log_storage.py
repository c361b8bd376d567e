"""Dagster's SQLite event log, with the shared index database's connection kept open instead of reopened per write.

Dagster's SQLite storage opens and closes a connection for every write: an event goes to its run's own database and,
for asset and asset-check events, several more times to the shared ``index.db``. A 15-minute tick stores ~600
events (most of them from the dbt build's checks), and those ~2,500 opens of ``index.db`` cost ~2 s of the tick's
15 s budget. This storage keeps one connection per process to ``index.db``; writes stay serialized by the storage's
lock and each is still its own committed transaction, so other processes (the UI, the daemon) see them as before.

Run databases keep a connection per write on purpose: the UI follows a running run by watching its file change, and
a connection held open would leave the writes in the ``-wal`` file, out of the watcher's sight. What is kept is the
run database's SQLAlchemy engine (it holds no connection): Dagster made a new one per write, so every insert was
compiled afresh (~0.5 ms of the ~2 ms an event costs; ~0.3 s of a 15-minute tick's ~600 events).

Opt-in (an edited ``dagster.yaml`` that keeps Dagster's SQLite storage names it; FinFlow's own instance is on
PostgreSQL): it overrides the private ``_connect`` of
Dagster's SQLite storage. With a Dagster other than the tested version (``optin.version_tested``) it is Dagster's
own ``SqliteEventLogStorage`` unchanged; delete the block from ``dagster.yaml`` to go back to Dagster's default.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

# the module Dagster's own dagster.yaml documentation names for this storage
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool, StaticPool

from . import version_tested

INDEX_SHARD_NAME = "index"  # dagster's sqlite_event_log constants, checked equal by tests/test_event_log_storage.py
SQLITE_BUSY_TIMEOUT_SECONDS = 30

RUN_ENGINES_KEPT = 16  # run databases written to recently (a daemon's process writes to many runs over a day)


class IndexPooledSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` with one open connection per process to ``index.db``."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._index_engine: Engine | None = None
        self._index_engine_pid: int | None = None
        self._inherited_engines: list[Engine] = []
        self._run_engines: OrderedDict[str, Engine] = OrderedDict()  # no connections held: fork-safe as they are
        self._pooled = version_tested("pooled SQLite event log", "dagster")
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> IndexPooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        if not self._pooled:
            with super()._connect(shard) as conn:
                yield conn
            return
        if shard != INDEX_SHARD_NAME:
            with self._db_lock, self._run_engine(shard).connect() as conn, conn.begin():
                yield conn
            return
        with self._db_lock, self._index_engine_for_this_process().connect() as conn, conn.begin():
            yield conn

    def _run_engine(self, shard: str) -> Engine:
        """The run database's engine, made once (Dagster's: a new one per write); each write still opens and closes
        its own connection (``NullPool``)."""
        engine = self._run_engines.get(shard)
        if engine is not None:
            self._run_engines.move_to_end(shard)
            return engine
        engine = create_engine(
            self.conn_string_for_shard(shard),
            poolclass=NullPool,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        )
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        self._run_engines[shard] = engine
        while len(self._run_engines) > RUN_ENGINES_KEPT:
            self._run_engines.popitem(last=False)[1].dispose()
        return engine

    def _index_engine_for_this_process(self) -> Engine:
        # a forked child must not share its parent's SQLite connection: it opens its own, and keeps the inherited
        # one referenced (never used, never closed: closing it here could drop the parent's file locks)
        if self._index_engine is not None and self._index_engine_pid != os.getpid():
            self._inherited_engines.append(self._index_engine)
            self._index_engine = None
        if self._index_engine is None:
            engine = create_engine(
                self.conn_string_for_shard(INDEX_SHARD_NAME),
                poolclass=StaticPool,  # one connection, used under self._db_lock from whichever thread holds it
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            if INDEX_SHARD_NAME not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(INDEX_SHARD_NAME)
            self._index_engine, self._index_engine_pid = engine, os.getpid()
        return self._index_engine

    def _forget_run_engines(self) -> None:
        for engine in self._run_engines.values():
            engine.dispose()
        self._run_engines.clear()

    def _close_index_connection(self) -> None:
        if self._index_engine is not None:
            if self._index_engine_pid == os.getpid():
                self._index_engine.dispose()
            else:
                self._inherited_engines.append(self._index_engine)
        self._index_engine = self._index_engine_pid = None

    def upgrade(self) -> None:
        self._close_index_connection()  # the migration runs on a fresh connection
        self._forget_run_engines()
        super().upgrade()

    def wipe(self) -> None:
        self._close_index_connection()
        self._forget_run_engines()  # (the run databases are deleted: the next write creates and initializes anew)
        super().wipe()

    def dispose(self) -> None:
        super().dispose()
        self._close_index_connection()
        self._forget_run_engines()
