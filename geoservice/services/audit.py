"""The audit trail: one append-only row per state-changing action, in the workspace.

Every state-changing service call goes through :func:`record` with the :class:`Actor` that
did it. The store refuses to change or delete a row; nothing in the app offers to.
"""

from __future__ import annotations

import datetime as dt

from geoservice.services.accounts import ACTION_LABELS, Actor
from layers import LayerStore

ACTIONS = ACTION_LABELS  # action identifier -> Chinese label


def record(store: LayerStore, actor: Actor | None, action: str, *, layer: str | None = None,
           before: int | None = None, after: int | None = None, params: dict | None = None,
           result: str = "", user: str | None = None, address: str | None = None) -> int:
    """Append one row: time, user, client address, action, layer, versions before/after,
    parameters and a one-line result. ``user``/``address`` stand in when there is no actor
    (a failed login names the account tried)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    return store.append_audit({
        "time": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "user": user if user is not None else (actor.name if actor else "匿名"),
        "address": address if address is not None else (actor.address if actor else ""),
        "action": action, "layer": layer, "version_before": before, "version_after": after,
        "params": params or {}, "result": (result or "").split("\n")[0][:500],
    })


def current_version(store: LayerStore, kind: str) -> int | None:
    v = store.current_versions().get(kind)
    return v.version if v else None


def rows(store: LayerStore, actor: Actor | None, **filters) -> list[dict]:
    """The rows ``actor`` may see, newest first, with the action's Chinese label: an admin
    sees all; anyone else their own rows and those of the layers their role may change."""
    from geoservice.services.accounts import ROLE_LAYERS

    if actor is None or actor.role != "admin":
        filters["users"] = [actor.name] if actor else []
        filters["layers"] = list(ROLE_LAYERS.get(actor.role, ())) if actor else []
    out = store.audit_rows(**{k: v for k, v in filters.items() if v not in (None, "")})
    for row in out:
        row["action_label"] = ACTIONS.get(row["action"], row["action"])
    return out
