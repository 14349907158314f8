"""Where a learner's work outlives the browser tab: runs, curves and models in SQLite or PostgreSQL.

`runs.py` holds the queries (the Store), `writer.py` the batched writes during training,
`schema.py` the tables and their upgrades, `db.py` the URL and engine, `admin.py` and
`__main__.py` the admin CLI (sizes, export, prune, backup, classes, export-class); `classes.py` the
classes and their walls.
"""
import logging
import threading

from core.store.runs import (Store, StoredRun, StoreError, max_runs, new_learner_key,  # noqa: F401
                             valid_learner_key)
from core.store.writer import Recorder, StoreWriter  # noqa: F401

_opened: tuple[Store, StoreWriter] | StoreError | None = None
_lock = threading.Lock()


def open_store() -> tuple[Store, StoreWriter]:
    """The process's store and its writer, opened on first use from TLL_DATABASE_URL; a database that
    cannot be used raises StoreError (every later call too, until the process restarts)."""
    global _opened
    with _lock:
        if _opened is None:
            try:
                store = Store()
                _opened = (store, StoreWriter(store))
                logging.getLogger(__name__).info("runs are kept in %s", store.where)
            except StoreError as exc:
                _opened = exc
        if isinstance(_opened, StoreError):
            raise _opened
        return _opened
