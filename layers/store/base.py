"""The store contract: what the service needs from a place that keeps layers.

Every store (the GeoPackage file today, PostGIS for a shared workspace) implements
:class:`LayerStore`; analyses, maps, reports and pages never know which one they run on.

The read contract, the same for every store:

* ``read`` returns a GeoDataFrame in CGCS2000 (EPSG:4490) with the kind's fields; integer
  fields as pandas ``Int64`` and boolean fields as ``boolean`` (missing values stay missing,
  never 0 or NaN floats); text as ``str``/object; codes as text with their leading zeros;
* ``bbox`` is (min lon, min lat, max lon, max lat) in EPSG:4490; the features whose geometry
  intersects it are returned (a store may return a few more, never fewer);
* ``version=None`` reads the current version; a kind never imported raises
  :class:`~layers.errors.LayerNotFound`;
* a write that fails leaves every current version as it was (``StoreError``).

A :class:`LayerVersion` names a version by kind and number only: how a store lays out its
tables is its own business and never reaches the API.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..schema import KINDS

if TYPE_CHECKING:
    import geopandas as gpd


@dataclass(frozen=True)
class LayerVersion:
    kind: str
    version: int
    created: str
    source: str
    source_crs: str
    features: int
    current: bool
    user: str = ""  # who wrote it (account, or the OS user of the CLI); "" before accounts
    # Where the store keeps it (a GeoPackage table name): internal, never serialised.
    table: str = field(default="", repr=False, compare=False)
    # The defects imported with it (layers.errors.Problem each), as :func:`import_file`
    # returns it; not stored: a version read back from the store has none.
    warnings: tuple = field(default=(), repr=False, compare=False)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "version": self.version, "created": self.created,
                "source": self.source, "source_crs": self.source_crs,
                "features": self.features, "current": self.current, "user": self.user}


class LayerStore(Protocol):
    """What the service needs from a place that stores layers (see the module docstring)."""

    def info(self) -> dict[str, str]: ...

    def set_info(self, **values: str) -> None: ...

    def current_versions(self) -> dict[str, LayerVersion]: ...

    def versions(self, kind: str) -> list[LayerVersion]: ...

    def read(self, kind: str, *, version: int | None = None,
             bbox: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame: ...

    def write(self, kind: str, gdf: gpd.GeoDataFrame, *, source: str,
              source_crs: str, user: str = "") -> LayerVersion: ...

    def write_many(self, items: list[tuple[str, gpd.GeoDataFrame]], *, source: str,
                   source_crs: str, user: str = "") -> list[LayerVersion]: ...

    # Accounts, the append-only audit trail and job records live in the workspace too.
    def users(self) -> list[dict]: ...

    def user(self, name: str) -> dict | None: ...

    def save_user(self, record: dict) -> None: ...

    def append_audit(self, row: dict) -> int: ...

    def audit_rows(self, **filters) -> list[dict]: ...

    def save_job(self, record: dict) -> None: ...

    def job_records(self) -> list[dict]: ...

    # save_job never sets a finished record (FINISHED_JOB_STATES) back to an unfinished one.

    def job_record(self, job_id: str) -> dict | None: ...

    # Copying a whole workspace (``workspace copy``): versions and audit rows as they were.
    def load_version(self, kind: str, gdf: gpd.GeoDataFrame, meta: LayerVersion) -> None:
        """Write one version of ``kind`` as another workspace kept it: its number
        (``meta.version``), ``created``, ``source``, ``source_crs``, ``user`` and ``current``
        flag are kept (``features`` is the frame's length). When ``meta.current`` it becomes
        the current version of its kind. Raises ``StoreError`` (nothing written) when that
        kind already has that version number. Later ``write`` calls number after the
        highest version loaded."""
        ...

    def load_audit(self, rows: list[dict]) -> None:
        """Append audit rows keeping their ``id`` and ``time`` (the dicts ``audit_rows()``
        returns; a row without ``id`` gets a new one), all or nothing. Raises
        ``StoreError`` (nothing written) when an id is already taken. Later
        ``append_audit`` calls number after the highest id."""
        ...


# The records every store keeps beside the layers, field by field, and how a row of them
# reads back (the same dicts from every store).
USER_FIELDS = ("name", "role", "password_hash", "token_hash", "active", "created", "changed")
AUDIT_FIELDS = ("time", "user", "address", "action", "layer", "version_before",
                "version_after", "params", "result")
JOB_FIELDS = ("id", "owner", "label", "state", "progress", "message", "error", "params",
              "created", "started", "finished", "result")


def user_dict(row) -> dict:
    """A row of ``USER_FIELDS`` as an account record (``active`` a bool)."""
    d = dict(zip(USER_FIELDS, row, strict=True))
    d["active"] = bool(d["active"])
    return d


def audit_dict(row) -> dict:
    """A row of ``id`` + ``AUDIT_FIELDS`` as an audit record (``params`` a dict)."""
    d = dict(zip(("id", *AUDIT_FIELDS), row, strict=True))
    d["params"] = json.loads(d["params"] or "{}")
    return d


def job_dict(row) -> dict:
    """A row of ``JOB_FIELDS`` as a job record (``params`` a dict, ``result`` bytes or None)."""
    d = dict(zip(JOB_FIELDS, row, strict=True))
    d["params"] = json.loads(d["params"] or "{}")
    if d["result"] is not None:
        d["result"] = bytes(d["result"])
    return d


# Job states after which a job record is final: a save never sets such a record back to an
# unfinished state (a cancel written by one server process is not undone by another
# process's heartbeat of the same job).
FINISHED_JOB_STATES = ("done", "failed", "cancelled", "interrupted")


def job_upsert_guard(table: str) -> str:
    """The WHERE of a job record's ``ON CONFLICT ... DO UPDATE``: never from a finished
    state (:data:`FINISHED_JOB_STATES`) back to an unfinished one."""
    states = ", ".join(f"'{s}'" for s in FINISHED_JOB_STATES)
    return f" WHERE NOT ({table}.state IN ({states}) AND excluded.state NOT IN ({states}))"


def audit_where(*, param: str, user_column: str, user: str | None = None,
                action: str | None = None, layer: str | None = None, since: str | None = None,
                until: str | None = None, users: list[str] | None = None,
                layers: list[str] | None = None) -> tuple[str, list]:
    """The WHERE clause (with " WHERE ", or "") and its arguments of ``audit_rows``'s
    filters, for a store whose SQL takes ``param`` as placeholder (``?``, ``%s``) and
    names the user column ``user_column``. ``since``/``until`` compare with the ISO time
    text (a date ``2026-11-26`` selects from/through that day); ``users``/``layers``: rows
    of any of these users or touching any of these layers (a viewer's own share)."""
    where, args = [], []
    for column, value in ((user_column, user), ("action", action), ("layer", layer)):
        if value:
            where.append(f"{column} = {param}")
            args.append(value)
    if since:
        where.append(f"time >= {param}")
        args.append(since)
    if until:
        where.append(f"time <= {param}")
        args.append(until if "T" in until else until + "T99")
    either = []
    for column, values in ((user_column, users), ("layer", layers)):
        if values is not None:
            either.append(f"{column} IN ({', '.join([param] * len(values))})" if values
                          else "1 = 0")
            args.extend(values)
    if either:
        where.append("(" + " OR ".join(either) + ")")
    return (" WHERE " + " AND ".join(where) if where else ""), args


def import_file(store: LayerStore, kind: str, path: str | Path, *, crs: str | None = None,
                filename: str | None = None, limits=None, user: str = "",
                checks: Callable[[gpd.GeoDataFrame], Iterable] | None = None
                ) -> LayerVersion:
    """Read, validate and store one file as the new current version of ``kind``, written
    by ``user``.

    ``limits`` (:class:`layers.readers.ImportLimits`): the service's configured limits on
    zip archives and feature counts; the readers' defaults when None.
    ``checks``: more checks of the layer as read, before it is written (e.g. against the
    workspace's other layers): it returns warnings (``layers.errors.Problem``) or raises
    ``ValidationError`` to refuse the file.
    Raises ``ValidationError`` (nothing written) when the file cannot be read. Returns the
    new version with ``warnings``: the defects imported (the reader's and ``checks``'),
    in row order, whole-file ones first.
    """
    from ..readers import read_layer

    if kind == "place_labels":
        # an internet map's export names its system in a 坐标系 column: read in that
        # system, each label keeping the one it came from (layers.labels)
        from ..labels import read_label_file

        gdf = read_label_file(path, crs, filename=filename, limits=limits)
    else:
        gdf = read_layer(path, kind, crs=crs, filename=filename, limits=limits)
    warnings = list(gdf.attrs.get("warnings", ()))
    if checks is not None:
        warnings += list(checks(gdf))
    warnings.sort(key=lambda p: (p.row is not None, p.row or 0))
    version = store.write(kind, gdf, source=gdf.attrs["source"],
                          source_crs=gdf.attrs["source_crs"], user=user)
    return replace(version, warnings=tuple(warnings))


def with_field_types(gdf: gpd.GeoDataFrame, kind) -> gpd.GeoDataFrame:
    """Give the int and bool fields of ``kind`` (a ``LayerKind``) back the nullable types
    the readers gave them (a store may hand them back as float 1.0 / NaN or object)."""
    for f in kind.fields:
        if f.name in gdf.columns and f.dtype in ("int", "bool"):
            try:
                gdf[f.name] = gdf[f.name].astype("Int64" if f.dtype == "int" else "boolean")
            except (TypeError, ValueError):
                pass  # not written by a reader: leave the column as stored
    return gdf


def layer_summary(store: LayerStore) -> list[dict]:
    """Every layer kind with its label, geometry, current version and count."""
    current = store.current_versions()
    out = []
    for name, kind in KINDS.items():
        v = current.get(name)
        out.append({
            "kind": name, "label": kind.label, "geometry": kind.geometry_label,
            "optional": kind.optional, "loaded": v is not None,
            "features": v.features if v else 0, "version": v.version if v else None,
            "created": v.created if v else None, "source": v.source if v else None,
            "source_crs": v.source_crs if v else None,
        })
    return out
