"""Which database the store uses, and an engine for it.

TLL_DATABASE_URL picks it: unset, a SQLite file `runs.sqlite` in the cache directory
(TLL_CACHE_DIR); `postgresql+psycopg://USER:PASS@HOST/DB` for a PostgreSQL server shared by
several app replicas. SQLite runs in WAL mode (readers never wait for the writer) with a busy
timeout, so the many threads of one server and a backup can use it at once.
"""
import os

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

from core.data import cache_dir

BUSY_TIMEOUT_MS = 10_000  # how long SQLite waits for another writer before "database is locked"


def database_url() -> str:
    """TLL_DATABASE_URL, else the SQLite file in the cache directory."""
    return os.environ.get("TLL_DATABASE_URL", "").strip() or f"sqlite:///{cache_dir() / 'runs.sqlite'}"


def describe(url: str) -> str:
    """The URL with any password hidden: fit for a log line or an admin's screen."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _sqlite_settings(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")  # deleting a run deletes its epochs, losses and weights
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL's safe setting: a power cut loses the last commits only
        cursor.close()

    return engine
