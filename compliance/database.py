"""The one SQLAlchemy base, engine construction and the unit-of-work session.

Schema changes only through Alembic (`migrations/`); `ensure_schema` runs the
migrations on first use so the embedded SQLite default needs no setup step.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from compliance.canonical import canonical_json
from compliance.errors import ComityError, NotFoundError
from compliance.files import require_existing, sqlite_file

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB_PATH = Path(".comity") / "comity.db"


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite drops tzinfo otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON()}


class KeyStoreRecord:
    """Mixin for models that live in the key store (`COMITY_KEYSTORE_URL`), not with the
    data: sessions bind every subclass to the key-store engine."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def idempotency_match(principal_col: Any, key_col: Any, principal_id: int | None,
                      key: str | Sequence[str]) -> ColumnElement[bool]:
    """The row an Idempotency-Key names (or the rows of several keys, `IN`: a batch's):
    keys are unique per principal (RFC draft idempotency-key-header: per client), never
    across the alliance. `=` on the principal so the (principal, key) unique index serves
    the lookup; `IS NULL` for in-process callers that have no principal."""
    scope = principal_col.is_(None) if principal_id is None else principal_col == principal_id
    match = key_col == key if isinstance(key, str) else key_col.in_(key)
    return scope & match  # type: ignore[no-any-return]


def database_url(explicit: str | None = None, *, create: bool = True) -> str:
    """Explicit URL, else `COMITY_DATABASE_URL`, else the embedded SQLite file (its folder
    made unless `create` is false)."""
    url = explicit or os.environ.get("COMITY_DATABASE_URL")
    if url:
        return url
    if create:
        DEFAULT_DB_PATH.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return f"sqlite:///{DEFAULT_DB_PATH.resolve()}"


def keystore_url(main_url: str, explicit: str | None = None) -> str:
    """Explicit, else `COMITY_KEYSTORE_URL`, else for a SQLite file a `<name>.keys.db` file
    beside it. Other backends keep keys in the same database unless told otherwise (give
    PostgreSQL deployments a separate key store database)."""
    url = explicit or os.environ.get("COMITY_KEYSTORE_URL")
    if url:
        return url
    prefix = "sqlite:///"
    if main_url.startswith(prefix) and len(main_url) > len(prefix) and ":memory:" not in main_url:
        path = Path(main_url[len(prefix):])
        return prefix + str(path.with_name(path.stem + ".keys" + (path.suffix or ".db")))
    return main_url


def make_engine(url: str) -> Engine:
    """JSON is stored as canonical text (sorted keys, compact) so that the audit verifier
    can hash stored `data` as it is."""
    if url.startswith("sqlite"):
        # FULL (the default) makes every commit survive power loss; NORMAL (WAL) survives a
        # crash of the process but not of the machine, for about a fifth less CPU per write.
        synchronous = os.environ.get("COMITY_SQLITE_SYNCHRONOUS", "FULL").upper()
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"COMITY_SQLITE_SYNCHRONOUS={synchronous!r}: use FULL or NORMAL")
        engine = create_engine(url, connect_args={"timeout": 30}, json_serializer=canonical_json)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # A deferred transaction that reads, then writes, fails at once with "database
            # is locked" when another writer committed in between; taking the write lock at
            # BEGIN makes writers queue instead (and keeps the audit chain head stable).
            read_only = conn.get_execution_options().get("comity_read_only", False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, json_serializer=canonical_json)


def _create_private(url: str) -> None:
    """A new SQLite file is made 0600 before SQLite opens it, like the key files: SQLite
    would make it 0644 under the usual umask, and its -wal and -shm files take the database
    file's mode. It holds consent records and the audit log, or the subjects' keys (PIPL
    Art. 51: technical measures against unauthorised access)."""
    path = sqlite_file(url)
    if path is None or path.exists():
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # another process made it first, the same way
    except FileNotFoundError:
        pass  # no such folder: SQLite says so, as before


def ensure_schema(url: str) -> None:
    """Bring the database to the newest migration (idempotent), making it first if it is a
    SQLite file that is not there yet."""
    from alembic import command
    from alembic.config import Config

    _create_private(url)

    cfg = Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logging"] = False
    command.upgrade(cfg, "head")


def _require_schema(url: str) -> None:
    """`require_existing`, then a look (without changing anything) for Alembic's version
    table, which every comity database has from its first migration on."""
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    hint = " (nothing was created; `comity db upgrade` or a command that records something "\
        "creates it)"
    require_existing(url, hint=hint)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            present = inspect(conn).has_table("alembic_version")
    except SQLAlchemyError as exc:
        raise ComityError(f"cannot open the database: {type(exc).__name__}",
                          status_code=503) from None
    finally:
        engine.dispose()
    if not present:
        path = sqlite_file(url)
        shown = str(path) if path else make_url(url).render_as_string(hide_password=True)
        raise NotFoundError(f"{shown} holds no comity schema{hint}")


def _commit_key_store_first(session: Session, key_engine: Engine) -> None:
    """A unit of work that touched both databases commits the key store first. SQLAlchemy
    commits a session's connections in no fixed order and SQLite has no two-phase commit, so
    a crash between the two commits must leave the safe half done: a destroyed key with its
    erasure not yet recorded is re-erased by the next run (and its data is unreadable
    already); an erasure recorded while the key survived would be a silent failure to
    shred. Likewise a new key without its ciphertexts is harmless, the reverse is data loss."""
    tx = session.get_transaction()
    if tx is None:
        return
    session.flush()
    entries = tx._connections  # noqa: SLF001 - no public hook orders the commits
    entry = entries.get(key_engine)
    if entry is None or not entry[2] or len({v[0] for v in entries.values()}) < 2:
        return
    conn, trans, _should_commit, autoclose = entry
    trans.commit()
    done = (conn, trans, False, autoclose)
    for k, v in list(entries.items()):  # registered under both the engine and the connection
        if v is entry:
            entries[k] = done


class Database:
    """Engine plus session factory; `unit_of_work` is the one transaction boundary.

    On SQLite, writers in this process queue on one lock before SQLite's own: SQLite's busy
    handler sleeps in growing steps, which is what made tail latency under load.
    """

    def __init__(self, url: str | None = None, *, migrate: bool = True,
                 key_url: str | None = None, must_exist: bool = False) -> None:
        """`must_exist`: for commands that only read (or act on records already there): a
        database or key store that is not there, or holds no comity schema, is refused and
        nothing is created."""
        self.url = database_url(url, create=not must_exist)
        self.key_url = keystore_url(self.url, key_url)
        urls = [self.url] if self.key_url == self.url else [self.url, self.key_url]
        if must_exist:
            for u in urls:
                _require_schema(u)
        if migrate:
            for u in urls:
                ensure_schema(u)
        self.engine = make_engine(self.url)
        self.key_engine = self.engine if len(urls) == 1 else make_engine(self.key_url)
        read_only = {"comity_read_only": True}
        self._sessions = sessionmaker(self.engine, binds={KeyStoreRecord: self.key_engine},
                                      expire_on_commit=False)
        self._readers = sessionmaker(
            self.engine.execution_options(**read_only),
            binds={KeyStoreRecord: self.key_engine.execution_options(**read_only)},
            expire_on_commit=False)
        self._sqlite = self.url.startswith("sqlite")
        self._write_lock = threading.Lock()

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """Commit on success, roll back on any error: services only flush."""
        if not self._sqlite:
            with self._run(self._sessions(), self.key_engine) as session:
                yield session
            return
        # FastAPI may enter and leave a dependency on different threads, so the lock is a
        # plain Lock (any thread may release it); a write unit opened inside another in the
        # same thread would wait on itself, hence the timeout and its message.
        if not self._write_lock.acquire(timeout=60):
            raise TimeoutError("waited 60 s for the database write lock (a write unit of "
                               "work opened inside another one waits on itself)")
        try:
            with self._run(self._sessions(), self.key_engine) as session:
                # Take the main database's write lock before the key store's, always: two
                # processes taking them in opposite orders would wait on each other.
                session.connection()
                yield session
        finally:
            self._write_lock.release()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only transaction: on SQLite it takes no write lock, so it never queues."""
        with self._run(self._readers()) as session:
            yield session

    @staticmethod
    @contextmanager
    def _run(session: Session, key_engine: Engine | None = None) -> Iterator[Session]:
        try:
            yield session
            if key_engine is not None:
                _commit_key_store_first(session, key_engine)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def checkpoint(self, mode: str = "PASSIVE") -> None:
        """Fold the WAL into the database files (TRUNCATE on dispose leaves no -wal file
        behind, so a copied database file is complete)."""
        if not self._sqlite:
            return
        for engine in {self.engine, self.key_engine}:
            raw = engine.raw_connection()  # no BEGIN: a checkpoint runs outside one
            try:
                raw.cursor().execute(f"PRAGMA wal_checkpoint({mode})").close()
            except Exception:
                continue  # busy or closing: the next checkpoint catches up
            finally:
                raw.close()

    def dispose(self) -> None:
        self.checkpoint("TRUNCATE")
        self.engine.dispose()
        self.key_engine.dispose()
