"""Shared fixtures. Tests never touch the network and keep rebuildable files in one temp cache."""
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["TLL_OFFLINE"] = "1"
os.environ.setdefault("TLL_CACHE_DIR", str(Path(tempfile.gettempdir()) / "tll-test-cache"))
os.environ.setdefault("TLL_DATABASE_URL", f"sqlite:///{tempfile.mkdtemp(prefix='tll-test-runs-')}/runs.sqlite")  # a fresh store per test run
os.environ.setdefault("TLL_DATA_DIR", str(ROOT / "tests" / "no-data-dir"))  # → the bundled sample

import pytest  # noqa: E402
import torch  # noqa: E402

from core import data as D  # noqa: E402


@pytest.fixture(scope="session")
def splits() -> D.MnistSplits:
    """The bundled sample, split as the app splits it (8,000 / 1,000 / 1,000)."""
    return D.load_splits(download=False)


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def postgres_server():
    """A private PostgreSQL 15 for the session (tests/postgres.py). Fails, never skips, when PostgreSQL
    is not installed: the run store must be tested on both of its databases."""
    from postgres import PostgresUnavailable, start_postgres

    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        problem = str(exc)
    else:
        yield server
        server.stop()
        return
    pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="session")
def postgres_url(postgres_server) -> str:
    """The URL (postgresql+psycopg://) of the session server's first database."""
    return postgres_server.url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A fresh, empty database for the run store: a SQLite file, or a new database on the session's
    PostgreSQL server (dropped afterwards, with any connections still open to it)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'runs.sqlite'}"
        return
    server = request.getfixturevalue("postgres_server")
    url = server.create_database()
    yield url
    server.drop_database(url)

