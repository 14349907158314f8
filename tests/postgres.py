"""A private PostgreSQL 15 server for one test session, so that the run store is tested on the
database a shared deployment uses, not only on SQLite.

    server = start_postgres()        # initdb + pg_ctl start in a fresh folder under /tmp, ~1 s
    server.url                       # postgresql+psycopg://postgres@127.0.0.1:PORT/tll_test
    url = server.create_database()   # a fresh, empty database on it (per test)
    server.drop_database(url)
    server.stop()                    # pg_ctl -m immediate stop, and the folder is deleted

initdb and pg_ctl refuse to run as root: as root they run as the `postgres` user (`runuser`), in a
folder that user owns. Missing binaries raise PostgresUnavailable naming the package to install.
"""
import atexit
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

PG_BIN = Path(os.environ.get("TLL_PG_BIN", "/usr/lib/postgresql/15/bin"))
SERVER_SETTINGS = ("listen_addresses=127.0.0.1", "fsync=off", "synchronous_commit=off",
                   "full_page_writes=off", "max_connections=300")


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can be started here; the message says what to install or fix."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, folder: Path, port: int, as_postgres: bool):
        self.folder, self.port, self._as_postgres = folder, port, as_postgres
        self.data = folder / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/tll_test"
        self._admin = None
        self._stopped = False

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, cwd=self.folder, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout)
        if done.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PostgresUnavailable(f"{' '.join(args[:1])} failed ({done.returncode}): "
                                      f"{(done.stderr or done.stdout).strip()[-2000:]}\n{tail}")

    def start(self) -> "PostgresServer":
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-locale", "--no-sync")
        options = f"-p {self.port} -k {self.folder} " + " ".join(f"-c {s}" for s in SERVER_SETTINGS)
        # -l: the server's output goes to a file; a pipe would stay open and hang this call
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w", "-t", "30",
                  "-o", options, "start")
        self._admin = create_engine(self._url_of("postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with self._admin.connect() as conn:
            conn.execute(text("CREATE DATABASE tll_test"))
        return self

    def _url_of(self, database: str) -> str:
        return make_url(self.url).set(database=database).render_as_string(hide_password=False)

    def create_database(self) -> str:
        """A fresh, empty database on this server; its URL."""
        name = f"t_{uuid.uuid4().hex}"
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        return self._url_of(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by create_database, closing whatever connections still use it."""
        name = make_url(url).database
        with self._admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._admin is not None:
            self._admin.dispose()
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=30)
        except (PostgresUnavailable, subprocess.TimeoutExpired):
            pass  # already gone: the folder goes all the same
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """Start a private server (initdb + pg_ctl) on a free port; raises PostgresUnavailable."""
    if not (PG_BIN / "initdb").is_file() or not (PG_BIN / "pg_ctl").is_file():
        raise PostgresUnavailable(
            f"PostgreSQL 15 is not installed (no {PG_BIN}/initdb): the run store's tests need it. "
            "Install it with `apt-get install postgresql` (scripts/test.sh does), or set TLL_PG_BIN "
            "to the folder holding initdb and pg_ctl.")
    as_postgres = os.geteuid() == 0  # initdb and pg_ctl refuse to run as root
    owner = None
    if as_postgres:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable("running as root, but there is no `postgres` user to run the test "
                                      "server as: `apt-get install postgresql` creates it") from None
    last = None
    for _ in range(3):  # another process may take the free port before the server binds it
        # under /tmp, not pytest's tmp_path: the postgres user must reach the folder through its parents
        folder = Path(tempfile.mkdtemp(prefix="tll-pg-", dir="/tmp"))
        if owner is not None:
            os.chown(folder, owner.pw_uid, owner.pw_gid)
        folder.chmod(0o755)
        server = PostgresServer(folder, free_port(), as_postgres)
        try:
            server.start()
        except (PostgresUnavailable, subprocess.TimeoutExpired, OSError) as exc:
            last = exc
            server.stop()
            continue
        atexit.register(server.stop)  # also when the session ends without its fixture's teardown
        return server
    raise PostgresUnavailable(f"the test PostgreSQL server did not start: {last}")
