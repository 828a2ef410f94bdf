"""``GET /api/search?q=…&limit=…``: the workspace's named features (villages, townships,
facilities, place labels, candidates, planned sites …) matching a name, code, full pinyin
or pinyin initials, best first (``geoservice/services/search.py``). The map's search box
(``maps/static/tools.js``) asks it for what the page does not carry (layers loaded by
view or drawn in bulk). Reading follows the read access of every other route
(``auth.read_access``). The index of each layer version is built once per app and kept;
the names' pinyin is shared with the maps' bulk layers (``geometry.pinyin_of``)."""

from __future__ import annotations

import threading

from flask import Blueprint, current_app, jsonify, request

from geoservice.services import search as service
from geoservice.services.params import whole_number
from geoservice.web.common import workspace_store
from geoservice.web.geometry import pinyin_of

bp = Blueprint("search", __name__, url_prefix="/api")
EXTENSION = "geoservice_search"
_LOCK = threading.Lock()


def _cache() -> dict:
    return current_app.extensions.setdefault(EXTENSION, {})


@bp.get("/search")
def search():
    q = request.args.get("q")
    limit = whole_number(request.args.get("limit"), "limit", default=service.DEFAULT_LIMIT,
                         lowest=1, highest=service.MAX_LIMIT)
    with _LOCK:  # one index build at a time (concurrent first searches share it)
        results = service.search(workspace_store(), q, limit=limit, cache=_cache(),
                                 pinyin=pinyin_of)
    return jsonify({"query": (q or "").strip(), "results": results,
                    "numberReturned": len(results)})
