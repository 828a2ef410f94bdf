"""Copying a whole workspace from one store to another (GeoPackage ↔ PostGIS, or alike).

Everything a workspace holds is copied as it was: its info, every version of every layer
kind (number, created, source, source CRS, user, current flag: ``store.load_version``),
the accounts, the audit trail (ids and times kept: ``store.load_audit``) and the job
records. The target must be empty (no layer version, account, audit row or job), so a copy
never mixes two workspaces; a non-empty target is refused before anything is written. The
copy is audited in the target as one ``workspace_copy`` row, after the copied ones.

No Flask and no click here: the CLI (``python -m geoservice workspace copy``) calls
:func:`copy_workspace` and prints its progress lines.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from geoservice.errors import GeoserviceError, message_for
from geoservice.services.accounts import Actor, require
from layers import LayerStore
from layers.schema import KINDS

ACTION = "workspace_copy"


class TargetNotEmpty(GeoserviceError):
    """The target already holds data: a copy would mix two workspaces."""

    status = 409


class CopyFailed(GeoserviceError):
    """A write into the target failed part way: the target holds part of the copy."""

    status = 500


def shown_workspace(workspace: str) -> str:
    """A workspace URL as it may be printed or audited: the password replaced by ``***``."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://[^:/@]*):[^@/]*@", r"\1:***@", str(workspace),
                  flags=re.IGNORECASE)


def contents(store: LayerStore) -> dict[str, int]:
    """How much a workspace holds: layer versions, accounts, audit rows, job records."""
    return {"versions": sum(len(store.versions(kind)) for kind in KINDS),
            "users": len(store.users()), "audit_rows": len(store.audit_rows()),
            "jobs": len(store.job_records())}


def require_empty(store: LayerStore, name: str) -> None:
    """:class:`TargetNotEmpty` (a Chinese message saying what it holds) unless ``store``
    holds no layer version, account, audit row or job record."""
    held = contents(store)
    if any(held.values()):
        what = "、".join(f"{n} {unit}" for n, unit in (
            (held["versions"], "个图层版本"), (held["users"], "个用户"),
            (held["audit_rows"], "条操作记录"), (held["jobs"], "个计算任务")) if n)
        raise TargetNotEmpty(f"目标工作空间“{name}”不是空的（已有 {what}），未复制任何内容："
                             "请指定一个新的（空的）工作空间")


def copy_workspace(source: LayerStore, target: LayerStore, *, actor: Actor | None,
                   source_name: str = "", target_name: str = "",
                   progress: Callable[[str], None] | None = None) -> dict:
    """Copy everything ``source`` holds into the empty ``target``, as ``actor`` (admin).

    ``progress`` receives one Chinese line per layer kind copied (and per accounts, audit
    trail, jobs). Returns the summary: ``layers`` (kind, label, versions, features per kind
    copied), the totals ``versions``, ``features``, ``users``, ``audit_rows``, ``jobs``, and
    ``audit_id`` (the target's ``workspace_copy`` row). Raises :class:`TargetNotEmpty`
    (nothing written) when the target holds data, :class:`CopyFailed` when a write failed
    part way (the target then holds part of the copy and should be removed or emptied).
    """
    say = progress or (lambda line: None)
    source_name = shown_workspace(source_name)
    target_name = shown_workspace(target_name)
    require(actor, ACTION)
    require_empty(target, target_name)
    say(f"复制工作空间：{source_name} → {target_name}")
    summary: dict = {"source": source_name, "target": target_name, "layers": [],
                     "versions": 0, "features": 0, "users": 0, "audit_rows": 0, "jobs": 0}
    try:
        info = source.info()
        if info:
            target.set_info(**info)
        for kind, layer in KINDS.items():
            versions = source.versions(kind)
            if not versions:
                continue
            features = 0
            for meta in versions:
                gdf = source.read(kind, version=meta.version)
                target.load_version(kind, gdf, meta)
                features += len(gdf)
            _check_versions(target, kind, versions)
            numbers = [v.version for v in versions]
            summary["layers"].append({"kind": kind, "label": layer.label, "versions": numbers,
                                      "features": features})
            summary["versions"] += len(versions)
            summary["features"] += features
            current = next((v.version for v in versions if v.current), None)
            say(f"图层“{layer.label}”（{kind}）：{len(versions)} 个版本（{_numbers(numbers)}"
                + (f"，当前为第 {current} 版" if current else "") + f"），{features} 个要素，已复制")
        users = source.users()
        for record in users:
            target.save_user(record)
        summary["users"] = len(users)
        say(f"用户账号：{len(users)} 个，已复制")
        rows = sorted(source.audit_rows(), key=lambda r: r["id"])
        if rows:
            target.load_audit(rows)
        summary["audit_rows"] = len(rows)
        say(f"操作记录：{len(rows)} 条（编号和时间不变），已复制")
        jobs = source.job_records()
        for record in jobs:
            target.save_job(record)
        summary["jobs"] = len(jobs)
        say(f"计算任务记录：{len(jobs)} 个，已复制")
    except GeoserviceError:
        raise
    except Exception as exc:  # noqa: BLE001 - the store's own message, and what to do now
        raise CopyFailed(f"复制中断：{message_for(exc)}；目标工作空间“{target_name}”已写入一部分，"
                         "请删除或清空后重新复制") from exc
    summary["audit_id"] = _audit(target, actor, summary)
    return summary


def _check_versions(target: LayerStore, kind: str, versions) -> None:
    """The target holds each version with the source's number, feature count and flag."""
    held = {v.version: v for v in target.versions(kind)}
    for v in versions:
        got = held.get(v.version)
        if got is None or got.features != v.features or got.current != v.current:
            raise CopyFailed(f"复制图层“{KINDS[kind].label}”第 {v.version} 版后核对不一致"
                             "（要素数或当前版本不同）：目标工作空间已写入一部分，请删除或清空后重新复制")


def _numbers(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"第 {numbers[0]} 版"
    if numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"第 {numbers[0]}–{numbers[-1]} 版"
    return "第 " + "、".join(map(str, numbers)) + " 版"


def _audit(target: LayerStore, actor: Actor, summary: dict) -> int:
    """The one ``workspace_copy`` row in the target (the same fields as
    :func:`geoservice.services.audit.record`)."""
    from geoservice.services import audit

    params = {"source": summary["source"], "target": summary["target"],
              "versions": summary["versions"], "features": summary["features"],
              "users": summary["users"], "audit_rows": summary["audit_rows"],
              "jobs": summary["jobs"]}
    result = (f"从“{summary['source']}”复制工作空间：{len(summary['layers'])} 个图层、"
              f"{summary['versions']} 个版本、{summary['users']} 个用户、"
              f"{summary['audit_rows']} 条操作记录、{summary['jobs']} 个计算任务")
    if ACTION in audit.ACTIONS:
        return audit.record(target, actor, ACTION, params=params, result=result)
    return target.append_audit({  # until the action has its label in accounts.ACTION_LABELS
        "time": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "user": actor.name, "address": actor.address, "action": ACTION, "layer": None,
        "version_before": None, "version_after": None, "params": params, "result": result})
