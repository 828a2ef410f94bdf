"""Layer changes made by a person: import and restore, each checked against the actor's
role and written to the audit trail (the web views and the CLI both come through here)."""

from __future__ import annotations

from pathlib import Path

from geoservice.errors import NotFound
from geoservice.services import audit
from geoservice.services.accounts import Actor, require
from layers import LayerNotFound, LayerStore, LayerVersion, ValidationError, import_file
from layers.schema import KINDS


def import_layer(store: LayerStore, actor: Actor | None, kind: str, path: str | Path, *,
                 crs: str | None = None, filename: str | None = None,
                 limits=None) -> LayerVersion:
    """Import a file as the new current version of ``kind`` by ``actor``; a refused file
    (ValidationError) changes nothing and is audited as refused."""
    require(actor, "import", kind)
    before = audit.current_version(store, kind)
    name = filename or Path(path).name
    try:
        version = import_file(store, kind, path, crs=crs, filename=filename, limits=limits,
                              user=actor.name)
    except ValidationError as exc:
        audit.record(store, actor, "import", layer=kind, before=before, after=before,
                     params={"file": name, "crs": crs},
                     result=f"被拒绝：{len(exc.problems)} 处问题，未改变数据")
        raise
    audit.record(store, actor, "import", layer=kind, before=before, after=version.version,
                 params={"file": name, "crs": crs or version.source_crs},
                 result=f"导入 {version.features} 个要素，成为第 {version.version} 版")
    return version


def restore_version(store: LayerStore, actor: Actor | None, kind: str,
                    version: int) -> LayerVersion:
    """A new current version of ``kind`` equal to its version ``version`` (never
    destructive: every version stays), by ``actor``, audited."""
    require(actor, "restore", kind)
    label = KINDS[kind].label
    try:
        old = store.read(kind, version=int(version))
    except LayerNotFound:
        raise NotFound(f"“{label}”图层没有第 {version} 版") from None
    src = next(v for v in store.versions(kind) if v.version == int(version))
    before = audit.current_version(store, kind)
    new = store.write(kind, old, source=f"恢复自第 {version} 版（{src.source}）",
                      source_crs=src.source_crs, user=actor.name)
    audit.record(store, actor, "restore", layer=kind, before=before, after=new.version,
                 params={"restored": int(version)},
                 result=f"第 {new.version} 版 = 第 {version} 版（{new.features} 个要素）")
    return new
