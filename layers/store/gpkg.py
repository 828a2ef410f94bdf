"""The GeoPackage store: the embedded default, one file per workspace.

A table per layer version (``<kind>_v<n>``) plus a version table and an info table. The
table names are this store's own business: callers see kinds and version numbers only.
geopandas and pyogrio are imported when a layer is read or written, so listing a workspace
(``python -m geoservice layers``) starts fast.
"""

from __future__ import annotations

import datetime as dt
import errno
import functools
import json
import logging
import re
import sqlite3
import tempfile
import threading
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

from ..errors import LayerNotFound, StoreError
from ..schema import KINDS, get_kind
from .base import (
    AUDIT_FIELDS,
    JOB_FIELDS,
    USER_FIELDS,
    LayerVersion,
    audit_dict,
    audit_where,
    job_dict,
    job_upsert_guard,
    user_dict,
)
from .base import with_field_types as _with_field_types

if TYPE_CHECKING:
    import geopandas as gpd

META_TABLE = "geoservice_versions"
INFO_TABLE = "geoservice_info"
USERS_TABLE = "geoservice_users"
AUDIT_TABLE = "geoservice_audit"
JOBS_TABLE = "geoservice_jobs"


_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()
LOCK_TIMEOUT_S = 600.0  # a writer waits this long for another writer before giving up
_VERSION_TABLE = re.compile(r"^(?P<kind>[a-z_]+)_v(?P<version>[0-9]+)$")
_GPKG_META = ("gpkg_contents", "gpkg_geometry_columns", "gpkg_extensions", "gpkg_ogr_contents")

log = logging.getLogger(__name__)


def _lock_for(path: Path) -> threading.Lock:
    key = str(path.resolve())
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


class _ReadWriteLock:
    """Readers share, a writer is alone (and waiting writers keep new readers out).

    Why: GDAL (pyogrio) and Python's sqlite3 are two copies of SQLite in one process, and
    SQLite's file locks are per process, so neither sees the other's locks: a GDAL read
    during a sqlite3 write (or the reverse) can read a half-written page. Every read and
    write of this file in this process therefore goes through this lock; between
    processes SQLite's own locks (and the writer file lock) do the work. A thread that
    holds the writer side may read."""

    def __init__(self):
        self._cond = threading.Condition()
        self._readers = 0
        self._writer: int | None = None
        self._waiting = 0

    @contextmanager
    def shared(self):
        if self._writer == threading.get_ident():
            yield
            return
        with self._cond:
            while self._writer is not None or self._waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    def acquire(self) -> None:
        with self._cond:
            self._waiting += 1
            try:
                while self._writer is not None or self._readers:
                    self._cond.wait()
            finally:
                self._waiting -= 1
            self._writer = threading.get_ident()

    def release(self) -> None:
        with self._cond:
            self._writer = None
            self._cond.notify_all()


_rw_locks: dict[str, _ReadWriteLock] = {}


def _rw_lock_for(path: Path) -> _ReadWriteLock:
    key = str(path.resolve())
    with _locks_guard:
        return _rw_locks.setdefault(key, _ReadWriteLock())




def _failure_message(exc: BaseException) -> str:
    """What a person reads when a write fails: the cause in Chinese, never a path or SQL."""
    text = str(exc).lower()
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC or "disk is full" in text \
            or "no space left" in text:
        return "写入图层失败：磁盘空间不足，工作空间未改变"
    if "readonly" in text or "read-only" in text or isinstance(exc, PermissionError):
        return "写入图层失败：工作空间文件只读或没有写权限，工作空间未改变"
    if isinstance(exc, Timeout):
        return "写入图层失败：另一个导入正在写入同一工作空间，等待超时，工作空间未改变"
    return "写入图层失败，工作空间未改变（详情见服务器日志）"


@functools.cache
def _copy_supported() -> bool:
    """Whether Python's SQLite can hold a GeoPackage spatial index (the R*Tree module):
    then new tables are staged in a file of their own and copied in (:func:`_copy_table`);
    else GDAL writes them into the workspace itself."""
    try:
        with closing(sqlite3.connect(":memory:")) as con:
            con.execute("CREATE VIRTUAL TABLE t USING rtree(id, minx, maxx, miny, maxy)")
    except sqlite3.DatabaseError:
        return False
    return True


def _columns(con: sqlite3.Connection, schema: str, table: str) -> list[str]:
    return [r[1] for r in con.execute(f'PRAGMA {schema}.table_info("{table}")')]


def _copy_table(con: sqlite3.Connection, table: str) -> None:
    """Copy layer ``table`` as GDAL wrote it in the attached database ``staged`` into the
    workspace, inside the caller's transaction: the table and its rows, its spatial index
    (the R*Tree's own tables copied as they are, not rebuilt), its triggers and indexes, and
    its rows of the GeoPackage metadata tables (and its coordinate system when the
    workspace lacks it)."""
    objects = con.execute(
        "SELECT type, name, tbl_name, sql FROM staged.sqlite_master WHERE sql IS NOT NULL"
    ).fetchall()
    prefix = f"rtree_{table}_"
    rtrees = [name for kind, name, _, sql in objects if kind == "table"
              and name.startswith(prefix) and sql.upper().startswith("CREATE VIRTUAL TABLE")]
    shadows = {f"{r}_{part}" for r in rtrees for part in ("node", "rowid", "parent")}
    main_sql = next(sql for kind, name, _, sql in objects if kind == "table" and name == table)
    con.execute(main_sql)
    con.execute(f'INSERT INTO main."{table}" SELECT * FROM staged."{table}"')
    for rtree in rtrees:
        con.execute(next(sql for _, name, _, sql in objects if name == rtree))
        for shadow in sorted(s for s in shadows if s.startswith(rtree + "_")):
            con.execute(f'DELETE FROM main."{shadow}"')
            con.execute(f'INSERT INTO main."{shadow}" SELECT * FROM staged."{shadow}"')
    owners = {table, *rtrees}
    for kind in ("index", "trigger"):
        for k, name, owner, sql in objects:
            if k == kind and owner in owners and name not in shadows:
                con.execute(sql)
    present = {r[0] for r in con.execute("SELECT name FROM main.sqlite_master WHERE type='table'")}
    for meta in ("gpkg_spatial_ref_sys", *_GPKG_META):
        source = _columns(con, "staged", meta)
        if not source:
            continue
        if meta not in present:
            con.execute(next(sql for k, name, _, sql in objects if k == "table" and name == meta))
        cols = ", ".join(f'"{c}"' for c in _columns(con, "main", meta) if c in source)
        if meta == "gpkg_spatial_ref_sys":
            con.execute(f"INSERT OR IGNORE INTO main.{meta} ({cols}) SELECT {cols}"
                        f" FROM staged.{meta} WHERE srs_id IN (SELECT srs_id FROM"
                        f" staged.gpkg_contents WHERE table_name = ?)", (table,))
        else:
            con.execute(f"INSERT INTO main.{meta} ({cols}) SELECT {cols} FROM staged.{meta}"
                        f" WHERE table_name = ?", (table,))


class GeoPackageStore:
    """Layers in one GeoPackage file: a table per layer version plus a version table.

    Writers take a lock that holds across processes (a ``.lock`` file beside the workspace,
    plus a thread lock inside one process): the next version number, the layer table and the
    version row are decided and written under it, so several server processes and CLI
    imports at once get distinct versions and never drop each other's tables. Readers only
    read versions whose row is committed, and a version's table is whole before its row is
    written, so a reader never sees half a version. (Write-ahead logging is not used: GDAL
    and Python's sqlite3 are two SQLite libraries in one process, and with WAL they
    corrupted the file in our tests.) A table left by a writer that died between steps (no
    version row) is removed by the next writer or the next start.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = _lock_for(self.path)
        self._rw = _rw_lock_for(self.path)
        self._file_lock = FileLock(str(self.path) + ".lock", timeout=LOCK_TIMEOUT_S,
                                   thread_local=False)
        if not self.path.exists():
            if not self.path.parent.exists():
                raise StoreError(f"工作空间目录不存在：{self.path.parent}")
            with self._writing():
                if not self.path.exists():
                    self._create()
        self._check()
        self._remove_orphans(wait=False)

    # --- housekeeping ----------------------------------------------------------------

    @contextmanager
    def _connect(self):
        """A sqlite3 connection for one transaction: committed (or rolled back) and closed
        on leaving, under the in-process read lock (or the writer's own lock)."""
        with self._rw.shared():
            con = sqlite3.connect(self.path, timeout=30)
            try:
                with con:
                    yield con
            finally:
                con.close()

    @contextmanager
    def _writing(self, *, wait: bool = True):
        """Hold the writer lock of this workspace (threads of this process and other
        processes). With ``wait=False`` yields False at once when another writer holds it."""
        if not self._lock.acquire(blocking=wait):
            yield False
            return
        try:
            try:
                self._file_lock.acquire(timeout=None if wait else 0)
            except (Timeout, OSError):
                if wait:
                    raise
                yield False  # busy, or a read-only folder: nothing to write anyway
                return
            try:
                self._rw.acquire()  # in this process: no reader in the file meanwhile
                try:
                    yield True
                finally:
                    self._rw.release()
            finally:
                self._file_lock.release()
        finally:
            self._lock.release()

    def _create(self) -> None:
        import geopandas as gpd
        import pyogrio

        from ..crs import STORED_CRS

        # An empty GeoPackage: GDAL writes the required gpkg_* tables with a first layer.
        empty = gpd.GeoDataFrame({"key": []}, geometry=gpd.GeoSeries([], crs=STORED_CRS))
        pyogrio.write_dataframe(empty, self.path, layer="geoservice_init", driver="GPKG")
        with self._connect() as con:
            self._ensure_tables(con)

    @staticmethod
    def _ensure_tables(con: sqlite3.Connection) -> None:
        if not con.in_transaction:  # one transaction (one set of disk syncs), not one
            con.execute("BEGIN")    # per statement; the caller's ``with con`` commits
        con.execute(f"""CREATE TABLE IF NOT EXISTS {META_TABLE} (
            kind TEXT NOT NULL, version INTEGER NOT NULL, table_name TEXT NOT NULL,
            created TEXT NOT NULL, source TEXT, source_crs TEXT, features INTEGER,
            current INTEGER NOT NULL DEFAULT 0, user TEXT, PRIMARY KEY (kind, version))""")
        columns = {r[1] for r in con.execute(f"PRAGMA table_info({META_TABLE})")}
        if "user" not in columns:  # a workspace from before versions recorded who
            con.execute(f"ALTER TABLE {META_TABLE} ADD COLUMN user TEXT")
        con.execute(f"CREATE TABLE IF NOT EXISTS {INFO_TABLE} (key TEXT PRIMARY KEY, value TEXT)")
        con.execute(f"""CREATE TABLE IF NOT EXISTS {USERS_TABLE} (
            name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT, token_hash TEXT,
            active INTEGER NOT NULL DEFAULT 1, created TEXT NOT NULL, changed TEXT)""")
        con.execute(f"""CREATE TABLE IF NOT EXISTS {AUDIT_TABLE} (
            id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, user TEXT NOT NULL,
            address TEXT, action TEXT NOT NULL, layer TEXT, version_before INTEGER,
            version_after INTEGER, params TEXT, result TEXT)""")
        # Append-only: the database itself refuses to change or remove an audit row.
        for verb in ("UPDATE", "DELETE"):
            con.execute(f"""CREATE TRIGGER IF NOT EXISTS {AUDIT_TABLE}_no_{verb.lower()}
                BEFORE {verb} ON {AUDIT_TABLE}
                BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END""")
        con.execute(f"""CREATE TABLE IF NOT EXISTS {JOBS_TABLE} (
            id TEXT PRIMARY KEY, owner TEXT, label TEXT, state TEXT NOT NULL, progress REAL,
            message TEXT, error TEXT, params TEXT, created TEXT, started TEXT, finished TEXT,
            result BLOB)""")

    def _check(self) -> None:
        try:
            with self._connect() as con:
                con.execute("SELECT count(*) FROM gpkg_contents").fetchone()
                present = {r[0] for r in con.execute(
                    "SELECT name FROM sqlite_master WHERE type='table'")}
                columns = {r[1] for r in con.execute(f"PRAGMA table_info({META_TABLE})")}
            needed = {META_TABLE, INFO_TABLE, USERS_TABLE, AUDIT_TABLE, JOBS_TABLE}
            if not needed <= present or "user" not in columns:
                try:
                    with self._writing(), self._connect() as con:
                        self._ensure_tables(con)
                except (OSError, sqlite3.OperationalError) as exc:
                    if META_TABLE not in present:
                        raise StoreError(f"工作空间文件“{self.path.name}”只读，无法初始化") \
                            from exc
                    # A read-only workspace from before accounts: layers still read.
                    log.warning("workspace %s is read-only: %s", self.path.name, exc)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"工作空间文件“{self.path.name}”不是有效的 GeoPackage") \
                from exc

    def _remove_orphans(self, *, wait: bool) -> None:
        """Drop version tables that no version row names (a writer died between steps)."""
        with self._writing(wait=wait) as held:
            if held:  # else another writer is at work: it cleans up when it writes
                self._remove_orphans_locked()

    def _remove_orphans_locked(self) -> None:
        with self._connect() as con:
            known = {r[0] for r in con.execute(f"SELECT table_name FROM {META_TABLE}")}
            tables = [r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            m = _VERSION_TABLE.match(table)
            if m and m["kind"] in KINDS and table not in known:
                log.warning("removing orphan table %s of %s", table, self.path.name)
                self._drop_table(table)

    # --- metadata --------------------------------------------------------------------

    def info(self) -> dict[str, str]:
        with self._connect() as con:
            return dict(con.execute(f"SELECT key, value FROM {INFO_TABLE}").fetchall())

    def set_info(self, **values: str) -> None:
        with self._writing(), self._connect() as con:
            con.executemany(f"INSERT OR REPLACE INTO {INFO_TABLE} (key, value) VALUES (?, ?)",
                            [(k, str(v)) for k, v in values.items()])

    def _rows(self, where: str = "", args: tuple = ()) -> list[LayerVersion]:
        with self._connect() as con:
            rows = con.execute(
                f"SELECT kind, version, table_name, created, source, source_crs, features,"
                f" current, user FROM {META_TABLE} {where} ORDER BY kind, version",
                args).fetchall()
        return [LayerVersion(r[0], r[1], r[3], r[4] or "", r[5] or "", r[6] or 0,
                             bool(r[7]), user=r[8] or "", table=r[2]) for r in rows]

    def current_versions(self) -> dict[str, LayerVersion]:
        return {v.kind: v for v in self._rows("WHERE current = 1")}

    def versions(self, kind: str) -> list[LayerVersion]:
        get_kind(kind)
        return self._rows("WHERE kind = ?", (kind,))

    # --- data ------------------------------------------------------------------------

    def read(self, kind: str, *, version: int | None = None,
             bbox: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
        """Read a layer (current version unless ``version``) in EPSG:4490.

        ``bbox`` is (min lon, min lat, max lon, max lat); features intersecting it are read.
        """
        import pyogrio

        from ..crs import STORED_CRS

        lk = get_kind(kind)
        if version is None:
            rows = self._rows("WHERE kind = ? AND current = 1", (kind,))
        else:
            rows = self._rows("WHERE kind = ? AND version = ?", (kind, int(version)))
        if not rows:
            what = f"第 {version} 版" if version is not None else "任何版本"
            raise LayerNotFound(f"工作空间中没有图层“{lk.label}”({kind})的{what}")
        with self._rw.shared():
            gdf = pyogrio.read_dataframe(self.path, layer=rows[0].table, bbox=bbox,
                                         fid_as_index=False)
        if gdf.crs is None:
            gdf = gdf.set_crs(STORED_CRS)
        return _with_field_types(gdf, lk)

    def write(self, kind: str, gdf: gpd.GeoDataFrame, *, source: str,
              source_crs: str, user: str = "") -> LayerVersion:
        """Store a validated layer as a new current version; keep the old ones. ``user``
        is who wrote it (an account name, or the operating-system user of the CLI)."""
        return self.write_many([(kind, gdf)], source=source, source_crs=source_crs,
                               user=user)[0]

    def write_many(self, items: list[tuple[str, gpd.GeoDataFrame]], *, source: str,
                   source_crs: str, user: str = "") -> list[LayerVersion]:
        """Store several layers as new current versions in one step: all or nothing.

        Under the writer lock: GDAL writes every table into a staging GeoPackage of its own
        (a new file, written as fast as any pyogrio write); one sqlite3 transaction then
        copies them into the workspace (:func:`_copy_table`) and makes them all current.
        Without the R*Tree module in Python's SQLite, GDAL writes the tables into the
        workspace itself and that transaction only makes them current. On any failure the
        tables this call wrote are dropped and the current versions stay as they were.
        """
        import pyogrio

        from ..crs import STORED_CRS

        kinds = [kind for kind, _ in items]
        for kind in kinds:
            get_kind(kind)
        if len(set(kinds)) != len(kinds):
            raise StoreError("同一次写入中图层重复")
        planned, written = [], []
        try:
            with self._writing(), tempfile.TemporaryDirectory(prefix="geoservice-") as tmp:
                try:
                    self._remove_orphans_locked()
                    # Staged: one set of disk syncs for the whole write, where GDAL
                    # writing into the workspace commits several transactions, each synced.
                    staged = Path(tmp) / "layers.gpkg" if _copy_supported() else None
                    for kind, gdf in items:
                        existing = self._rows("WHERE kind = ?", (kind,))
                        version = max((v.version for v in existing), default=0) + 1
                        table = f"{kind}_v{version}"
                        data = gdf.to_crs(STORED_CRS)
                        written.append(table)
                        target = self.path if staged is None else staged
                        pyogrio.write_dataframe(data, target, layer=table, driver="GPKG",
                                                promote_to_multi=False)
                        planned.append((kind, version, table, len(data)))
                    created = dt.datetime.now().astimezone().isoformat(timespec="seconds")
                    with self._connect() as con:  # one transaction: all or nothing
                        if staged is not None:
                            con.execute("ATTACH DATABASE ? AS staged", (str(staged),))
                            con.execute("BEGIN IMMEDIATE")
                            for _, _, table, _ in planned:
                                _copy_table(con, table)
                        for kind, version, table, n in planned:
                            con.execute(f"UPDATE {META_TABLE} SET current = 0 WHERE kind = ?",
                                        (kind,))
                            con.execute(
                                f"INSERT INTO {META_TABLE} (kind, version, table_name,"
                                f" created, source, source_crs, features, current, user)"
                                f" VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)",
                                (kind, version, table, created, source, source_crs, n, user))
                except Exception:
                    for table in written:  # ours alone: the lock is still held
                        self._drop_table(table)
                    raise
        except Exception as exc:
            log.exception("write to %s failed", self.path.name)
            raise StoreError(_failure_message(exc)) from exc
        return [LayerVersion(kind, version, created, source, source_crs, n, True, user=user,
                             table=table) for kind, version, table, n in planned]

    def load_version(self, kind: str, gdf: gpd.GeoDataFrame, meta: LayerVersion) -> None:
        """Write one version as another workspace kept it (number, created, source,
        source_crs, user, current flag); ``StoreError`` when ``kind`` has that version."""
        import pyogrio

        from ..crs import STORED_CRS

        lk = get_kind(kind)
        version = int(meta.version)
        if version < 1:
            raise StoreError(f"图层“{lk.label}”({kind})的版本号应为正整数：{version}")
        table = f"{kind}_v{version}"
        try:
            with self._writing():
                self._remove_orphans_locked()
                if self._rows("WHERE kind = ? AND version = ?", (kind, version)):
                    raise StoreError(
                        f"工作空间中已有图层“{lk.label}”({kind})的第 {version} 版，未载入")
                data = gdf if gdf.crs is None else gdf.to_crs(STORED_CRS)
                if data.crs is None:
                    data = data.set_crs(STORED_CRS)
                try:
                    pyogrio.write_dataframe(data, self.path, layer=table, driver="GPKG",
                                            promote_to_multi=False)
                    with self._connect() as con:  # one transaction
                        if meta.current:
                            con.execute(f"UPDATE {META_TABLE} SET current = 0 WHERE kind = ?",
                                        (kind,))
                        con.execute(
                            f"INSERT INTO {META_TABLE} (kind, version, table_name, created,"
                            f" source, source_crs, features, current, user)"
                            f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (kind, version, table, meta.created, meta.source,
                             meta.source_crs, len(data), 1 if meta.current else 0,
                             meta.user))
                except Exception:
                    self._drop_table(table)  # ours alone: the lock is still held
                    raise
        except StoreError:
            raise
        except Exception as exc:
            log.exception("loading a version into %s failed", self.path.name)
            raise StoreError(_failure_message(exc)) from exc

    # --- users, audit trail, job records -----------------------------------------------

    def users(self) -> list[dict]:
        with self._connect() as con:
            rows = con.execute(f"SELECT {', '.join(USER_FIELDS)} FROM {USERS_TABLE}"
                               " ORDER BY name").fetchall()
        return [user_dict(r) for r in rows]

    def user(self, name: str) -> dict | None:
        with self._connect() as con:
            row = con.execute(f"SELECT {', '.join(USER_FIELDS)} FROM {USERS_TABLE}"
                              " WHERE name = ?", (name,)).fetchone()
        return user_dict(row) if row else None

    def save_user(self, record: dict) -> None:
        """Insert or replace one account (``USER_FIELDS``)."""
        values = [record.get(f) for f in USER_FIELDS]
        values[USER_FIELDS.index("active")] = 1 if record.get("active", True) else 0
        with self._writing(), self._connect() as con:
            con.execute(f"INSERT OR REPLACE INTO {USERS_TABLE} ({', '.join(USER_FIELDS)})"
                        f" VALUES ({', '.join('?' * len(USER_FIELDS))})", values)

    def append_audit(self, row: dict) -> int:
        """Append one audit row (``AUDIT_FIELDS``; ``params`` a dict): its id. Rows are never
        changed or removed (the database refuses)."""
        values = [row.get(f) for f in AUDIT_FIELDS]
        values[AUDIT_FIELDS.index("params")] = json.dumps(row.get("params") or {},
                                                          ensure_ascii=False, default=str)
        with self._writing(), self._connect() as con:
            cur = con.execute(f"INSERT INTO {AUDIT_TABLE} ({', '.join(AUDIT_FIELDS)})"
                              f" VALUES ({', '.join('?' * len(AUDIT_FIELDS))})", values)
            return int(cur.lastrowid)

    def load_audit(self, rows: list[dict]) -> None:
        """Append audit rows keeping their ``id`` and ``time``, all or nothing;
        ``StoreError`` when an id is taken."""
        fields = ("id", *AUDIT_FIELDS)
        values = []
        for row in rows:
            v = [row.get(f) for f in fields]
            v[fields.index("params")] = json.dumps(row.get("params") or {},
                                                   ensure_ascii=False, default=str)
            values.append(v)
        ids = [v[0] for v in values if v[0] is not None]
        if len(set(ids)) != len(ids):
            raise StoreError("载入的操作记录中编号重复，未载入")
        try:
            with self._writing(), self._connect() as con:
                for start in range(0, len(ids), 500):
                    chunk = ids[start:start + 500]
                    taken = con.execute(
                        f"SELECT min(id) FROM {AUDIT_TABLE}"
                        f" WHERE id IN ({', '.join('?' * len(chunk))})", chunk).fetchone()[0]
                    if taken is not None:
                        raise StoreError(f"工作空间中已有编号为 {taken} 的操作记录，未载入")
                con.executemany(f"INSERT INTO {AUDIT_TABLE} ({', '.join(fields)})"
                                f" VALUES ({', '.join('?' * len(fields))})", values)
        except StoreError:
            raise
        except Exception as exc:
            log.exception("loading audit rows into %s failed", self.path.name)
            raise StoreError("载入操作记录失败，工作空间未改变（详情见服务器日志）") from exc

    def audit_rows(self, *, user: str | None = None, action: str | None = None,
                   layer: str | None = None, since: str | None = None,
                   until: str | None = None, users: list[str] | None = None,
                   layers: list[str] | None = None) -> list[dict]:
        """Audit rows, newest first (the filters of :func:`~layers.store.base.audit_where`)."""
        where, args = audit_where(param="?", user_column="user", user=user, action=action,
                                  layer=layer, since=since, until=until, users=users,
                                  layers=layers)
        sql = f"SELECT id, {', '.join(AUDIT_FIELDS)} FROM {AUDIT_TABLE}{where} ORDER BY id DESC"
        with self._connect() as con:
            rows = con.execute(sql, args).fetchall()
        return [audit_dict(r) for r in rows]

    def save_job(self, record: dict) -> None:
        """Insert or replace one job record (``JOB_FIELDS``; ``params`` a dict, ``result``
        bytes or None); a finished record is never set back to an unfinished state."""
        values = [record.get(f) for f in JOB_FIELDS]
        values[JOB_FIELDS.index("params")] = json.dumps(record.get("params") or {},
                                                        ensure_ascii=False, default=str)
        others = [f for f in JOB_FIELDS if f != "id"]
        with self._writing(), self._connect() as con:
            con.execute(f"INSERT INTO {JOBS_TABLE} ({', '.join(JOB_FIELDS)})"
                        f" VALUES ({', '.join('?' * len(JOB_FIELDS))})"
                        " ON CONFLICT (id) DO UPDATE SET "
                        + ", ".join(f"{f} = excluded.{f}" for f in others)
                        + job_upsert_guard(JOBS_TABLE), values)

    def job_records(self) -> list[dict]:
        """Every recorded job, oldest first (``result`` as stored bytes or None)."""
        with self._connect() as con:
            rows = con.execute(f"SELECT {', '.join(JOB_FIELDS)} FROM {JOBS_TABLE}"
                               " ORDER BY created, id").fetchall()
        return [job_dict(r) for r in rows]

    def job_record(self, job_id: str) -> dict | None:
        """One job's record (as :meth:`job_records` gives it), None when there is none."""
        with self._connect() as con:
            r = con.execute(f"SELECT {', '.join(JOB_FIELDS)} FROM {JOBS_TABLE} WHERE id = ?",
                            (job_id,)).fetchone()
        return None if r is None else job_dict(r)

    def _drop_table(self, table: str) -> None:
        """Remove a half-written version table so it leaves no trace."""
        try:
            with self._connect() as con:
                names = [r[0] for r in con.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE ?",
                    (f"rtree_{table}_%",))]
                for name in names + [table]:
                    con.execute(f'DROP TABLE IF EXISTS "{name}"')
                present = {r[0] for r in con.execute(
                    "SELECT name FROM sqlite_master WHERE type='table'")}
                for meta in _GPKG_META:
                    if meta in present:
                        con.execute(f"DELETE FROM {meta} WHERE table_name = ?", (table,))
        except sqlite3.DatabaseError:
            pass
