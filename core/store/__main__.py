"""`python -m core.store`: the run store's housekeeping, for whoever runs the server.

    python -m core.store sizes [--json]                        # rows, bytes, runs per status, file size
    python -m core.store export --format csv [--output runs.csv] [--learner ID]   # one row per epoch
    python -m core.store export --format json [--output runs.json]                # one object per run
    python -m core.store prune --days 90 [--dry-run]           # delete runs not written to for 90 days
    python -m core.store backup /backups/runs-2025-03-01.sqlite  # a consistent copy while the app runs
    python -m core.store classes [--json]                      # every class: students, runs, open, revealed
    python -m core.store export-class K7M2QX [--format csv|json] [--output FILE]  # one class's wall
    python -m core.store --url postgresql+psycopg://user:pass@host/db sizes

The database is TLL_DATABASE_URL (default: runs.sqlite in the cache directory); --url overrides
it. A SQLite file that does not exist is refused, not created. Learners are named by their
numeric id only (in a class's export: by the nickname its wall shows). Class codes are
case-insensitive; a class name is printed without control characters. Bad arguments, an unknown
class code or a database that cannot be used: one line on stderr, exit code 2; a failure while
working (disk full, database locked): one line, exit code 1.
"""
import argparse
import csv
import json
import os
import sqlite3
import sys
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from core.store import admin
from core.store.classes import normal_code
from core.store.db import database_url, describe
from core.store.runs import Store, StoreError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """One clear line and exit code 2, instead of argparse's usage dump."""
        self.exit(2, f"error: {message} (see --help)\n")


def _days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {value!r}") from None
    if days < 0:
        raise argparse.ArgumentTypeError(f"days must be 0 or more, not {days}")
    return days


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m core.store", description="Housekeeping of the run store: sizes, exports, "
                "pruning old runs, backups, classes.")
    p.add_argument("--url", default=None, help="database URL (default: $TLL_DATABASE_URL, else runs.sqlite in "
                   "the cache directory)")
    url = _Parser(add_help=False)  # --url after the command too ("sizes --url …"), overriding only when given
    url.add_argument("--url", default=argparse.SUPPRESS, help="database URL (as before the command)")
    sub = p.add_subparsers(dest="command", required=True, metavar="{sizes,export,prune,backup,classes,export-class}",
                           parser_class=_Parser)
    s = sub.add_parser("sizes", parents=[url],
                       help="rows per table, bytes of weights, runs per status, file size")
    s.add_argument("--json", action="store_true", help="one JSON object instead of text")
    e = sub.add_parser("export", parents=[url],
                       help="every run's settings and epochs, as CSV (a row per epoch) or JSON")
    e.add_argument("--format", choices=("csv", "json"), required=True)
    e.add_argument("--output", default=None, metavar="FILE", help="write here (default: standard output)")
    e.add_argument("--learner", type=int, default=None, metavar="ID", help="only this learner's runs")
    r = sub.add_parser("prune", parents=[url],
                       help="delete runs not written to for N days (never queued or running ones)")
    r.add_argument("--days", type=_days, required=True, metavar="N")
    r.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    b = sub.add_parser("backup", parents=[url],
                       help="a consistent copy of a SQLite database, while the app runs")
    b.add_argument("path", metavar="PATH", help="the new file (never overwritten)")
    c = sub.add_parser("classes", parents=[url],
                       help="every class: code, name, students, counted runs, open or closed, revealed, created")
    c.add_argument("--json", action="store_true", help="a JSON list instead of a table")
    x = sub.add_parser("export-class", parents=[url],
                       help="one class's wall: a row per run (CSV), or its leaderboard, final ranking and runs (JSON)")
    x.add_argument("code", metavar="CODE", help="the class code (any case)")
    x.add_argument("--format", choices=("csv", "json"), default="csv")
    x.add_argument("--output", default=None, metavar="FILE", help="write here (default: standard output)")
    return p


def open_store(url: str) -> Store:
    """The store at `url`; StoreError when it cannot be used. A missing SQLite file is refused here,
    where the app would create it: a typing mistake should not leave an empty database behind."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError("store_unavailable", where=repr(url), problem="not a database URL") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).is_file():
            raise StoreError("store_unavailable", where=describe(url), problem="no such file")
    return Store(url)


def _bytes(n: int | None) -> str:
    if n is None:
        return "–"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _runs(n: int) -> str:
    return f"{n:,} run" if n == 1 else f"{n:,} runs"


def _days_text(days: int) -> str:
    return "1 day" if days == 1 else f"{days:,} days"


def print_sizes(found: dict, out) -> None:
    print(f"database   {found['where']} (schema version {found['schema_version']})", file=out)
    if found["backend"] == "sqlite":
        wal = f" + {_bytes(found['wal_bytes'])} write-ahead log" if found["wal_bytes"] else ""
        print(f"file       {_bytes(found['database_bytes'])}{wal}", file=out)
    else:
        print(f"size       {_bytes(found['database_bytes'])}", file=out)
    print(f"learners   {found['learners']:,}", file=out)
    statuses = ", ".join(f"{n:,} {status}" for status, n in found["runs_by_status"].items())
    print(f"runs       {found['runs']:,}" + (f": {statuses}" if statuses else ""), file=out)
    if found["active_without_heartbeat"]:
        print(f"           {found['active_without_heartbeat']:,} queued/running without a heartbeat "
              f"(their process is gone: the app shows them as interrupted)", file=out)
    if found["oldest_update"]:
        print(f"updated    oldest {found['oldest_update']}, newest {found['newest_update']}", file=out)
    print("rows       " + ", ".join(f"{table} {n:,}" for table, n in found["rows"].items()), file=out)
    blobs = found["blob_bytes"]
    print(f"weights    models {_bytes(blobs['model'])}, saved states for going on {_bytes(blobs['resume'])}",
          file=out)


def print_classes(found: list[dict], out) -> None:
    """A table, oldest class first; the name last, so that wide (CJK) names cannot shift the columns."""
    if not found:
        print("no classes", file=out)
        return
    print(f"{'CODE':<8}{'STUDENTS':>8}{'RUNS':>7}  {'CONTEST':<8}{'REVEALED':<10}{'CREATED (UTC)':<18}NAME", file=out)
    for c in found:
        created = (c["created_at"] or "")[:16].replace("T", " ")
        print(f"{c['code']:<8}{c['students']:>8,}{c['runs']:>7,}  {'open' if c['open'] else 'closed':<8}"
              f"{'yes' if c['revealed'] else 'no':<10}{created:<18}{admin.printable(c['name'])}", file=out)


def write_class(found: dict | list[dict], out) -> int:
    """Write one class's export to `out`: admin.class_export's dict as JSON, admin.class_rows' rows as
    CSV. Returns how many runs it holds."""
    if isinstance(found, dict):
        json.dump(found, out, indent=1)
        out.write("\n")
        return len(found["runs"])
    rows = found
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else admin.CLASS_CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return len(rows)


def write_export(store: Store, fmt: str, learner: int | None, out) -> int:
    """Write the export to `out`; returns how many runs it holds."""
    if fmt == "json":
        runs = admin.export_runs(store, learner)
        json.dump(runs, out, indent=1)
        out.write("\n")
        return len(runs)
    rows = admin.export_rows(store, learner)
    writer = csv.DictWriter(out, fieldnames=admin.CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return len({row["run_id"] for row in rows})


@contextmanager
def _output(path: str | None):
    if path is None:
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8", newline="") as f:
        yield f


REPORTS = {"sizes": (admin.sizes, print_sizes), "classes": (admin.classes, print_classes)}  # command → (read, print)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    url = args.url or database_url()
    try:
        store = open_store(url)
    except StoreError as exc:
        parser.exit(2, f"error: the database {exc.params['where']} cannot be used: {exc.params['problem']}\n")
    try:
        if args.command in REPORTS:  # sizes, classes: a table, or JSON for scripts
            read, show = REPORTS[args.command]
            found = read(store)
            if args.json:
                print(json.dumps(found, indent=1))
            else:
                show(found, sys.stdout)
        elif args.command == "export":
            with _output(args.output) as out:
                n = write_export(store, args.format, args.learner, out)
            if args.output:
                print(f"exported {_runs(n)} to {args.output}")
        elif args.command == "prune":
            n = admin.prune(store, args.days, dry_run=args.dry_run)
            if args.dry_run:
                print(f"would delete {_runs(n)} not written to for {_days_text(args.days)} (dry run: nothing deleted)")
            else:
                print(f"deleted {_runs(n)} not written to for {_days_text(args.days)}")
        elif args.command == "backup":
            size = admin.backup(store, args.path)
            print(f"backed up {store.where} to {args.path} ({_bytes(size)})")
        elif args.command == "export-class":
            # read before the output is opened: an unknown code leaves no empty file behind
            found = (admin.class_export if args.format == "json" else admin.class_rows)(store, args.code)
            with _output(args.output) as out:
                n = write_class(found, out)
            if args.output:
                print(f"exported {_runs(n)} of the class {admin.printable(normal_code(args.code))} to {args.output}")
    except admin.AdminError as exc:
        parser.exit(2, f"error: {exc}\n")
    except BrokenPipeError:  # `… | head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 1
    except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
        problem = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        parser.exit(1, f"error: {args.command} failed: {problem[0][:300] if problem else exc.__class__.__name__}\n")
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
