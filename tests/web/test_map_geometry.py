"""/api/layers/<kind>/geometry: every feature of a polygon layer simplified for a zoom
(geoservice/web/geometry.py), and the pages drawing heavy polygon layers from it
(maps/bulk.py) instead of inlining them."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import shapely
from fixtures import make_app

from layers import open_store

HOSTILE = '</script><img src=x onerror="alert(1)">${x}{{7*7}}&amp;`'
BULK = {"MAP_GEOMETRY_MIN_VERTICES": 1000}  # the demo county's villages (5,623) are heavy


def decode(body: dict) -> list:
    """The response's geometries as shapely geometries (lon/lat)."""
    ox, oy = body["origin"]
    step = body["scale"]
    out = []
    for polys in body["geometries"]:
        shells = []
        for rings in polys:
            coords = []
            for flat in rings:
                q = np.cumsum(np.asarray(flat, dtype=np.int64).reshape(-1, 2), axis=0)
                coords.append(np.column_stack([ox + q[:, 0] * step, oy + q[:, 1] * step]))
            shells.append(shapely.Polygon(coords[0], coords[1:]))
        out.append(shapely.MultiPolygon(shells) if len(shells) > 1 else shells[0])
    return out


@pytest.fixture(scope="module")
def app(module_demo_workspace):
    return make_app({"WORKSPACE": str(module_demo_workspace), **BULK})


@pytest.fixture(scope="module")
def villages(module_demo_workspace):
    return open_store(module_demo_workspace).read("villages")


def get(client, url, **headers):
    r = client.get(url, headers=headers)
    return r, (json.loads(r.data) if r.status_code == 200 and not headers else None)


@pytest.mark.parametrize("zoom", [6, 8, 11, 14, 18])
def test_every_village_simplified_and_valid(app, villages, zoom):
    r, body = get(app.test_client(), f"/api/layers/villages/geometry?zoom={zoom}")
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert body["total"] == body["numberMatched"] == len(villages)
    assert body["ids"] == list(range(len(villages)))
    assert body["properties"]["code"] == villages["code"].tolist()  # same codes, same order
    assert body["zoom"] == min(b for b in (6, 8, 10, 12, 14, 16, 99) if b >= zoom) \
        if zoom <= 16 else body["zoom"] == 16
    geoms = decode(body)
    assert len(geoms) == len(villages)
    assert all(g.is_valid and not g.is_empty for g in geoms)
    original = villages.geometry.to_numpy()
    # within about a pixel of the original, never fewer features or wildly other shapes
    tolerance = body["tolerance"]
    hd = shapely.hausdorff_distance(np.asarray(geoms), original)
    assert float(np.max(hd)) < 3 * tolerance + 1e-6
    if zoom >= 14:
        inter = shapely.area(shapely.intersection(np.asarray(geoms), original))
        assert float(np.min(inter / shapely.area(original))) > 0.97
    # simplified: fewer vertices when zoomed out
    n_simple = int(shapely.get_num_coordinates(np.asarray(geoms)).sum())
    n_orig = int(shapely.get_num_coordinates(original).sum())
    assert n_simple <= n_orig
    if zoom <= 8:
        assert n_simple < n_orig / 2
    # the points are inside (or on) their feature
    ox, oy = body["origin"]
    pts = shapely.points([(ox + x * body["scale"], oy + y * body["scale"])
                          for x, y in body["points"]])
    assert np.all(shapely.distance(pts, original) < 2 * body["scale"])


def test_bbox_props_and_pinyin(app, villages):
    client = app.test_client()
    minx, miny, maxx, maxy = villages.total_bounds
    box = (minx, miny, (minx + maxx) / 2, (miny + maxy) / 2)
    r, body = get(client, "/api/layers/villages/geometry?zoom=14&bbox="
                  + ",".join(f"{v:.6f}" for v in box) + "&props=name,population&pinyin=1")
    assert r.status_code == 200
    want = np.flatnonzero(villages.intersects(shapely.box(*box)).to_numpy())
    # an envelope test: every intersecting village is there
    assert set(want.tolist()) <= set(body["ids"]) and len(body["ids"]) < len(villages)
    assert body["numberMatched"] == len(body["ids"]) == len(body["geometries"])
    assert set(body["properties"]) == {"name", "population"}
    assert body["properties"]["name"] == villages["name"].iloc[body["ids"]].tolist()
    assert all(isinstance(p, list) and len(p) == 2 for p in body["pinyin"])
    first = body["properties"]["name"][0]
    assert body["pinyin"][0][0] and body["pinyin"][0][1][0] == body["pinyin"][0][0][0], first
    r, body = get(client, "/api/layers/villages/geometry?zoom=8&props=&pinyin=1&geometry=0")
    assert "geometries" not in body and body["properties"] == {}
    assert len(body["pinyin"]) == len(villages)


@pytest.mark.parametrize("query, words", [
    ("zoom=abc", "zoom"), ("zoom=99", "zoom"), ("zoom=-1", "zoom"),
    ("bbox=1,2,3", "bbox"), ("bbox=10,10,5,5", "bbox"),
    ("props=name,nonsense", "nonsense"), ("version=0", "version"),
])
def test_bad_parameters_are_chinese_400s(app, query, words):
    r = app.test_client().get(f"/api/layers/villages/geometry?{query}")
    assert r.status_code == 400
    body = r.get_json()
    assert words in body["error"] and any("\u4e00" <= ch <= "\u9fff" for ch in body["error"])


def test_point_layer_and_unknown_kind(app):
    client = app.test_client()
    r = client.get("/api/layers/elderly_service_points/geometry")
    assert r.status_code == 400 and "面图层" in r.get_json()["error"]
    assert client.get("/api/layers/nonsense/geometry").status_code in (400, 404)


def test_gzip_when_asked(app):
    client = app.test_client()
    plain = client.get("/api/layers/villages/geometry?zoom=10")
    assert "Content-Encoding" not in plain.headers
    packed = client.get("/api/layers/villages/geometry?zoom=10",
                        headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data
    assert len(packed.data) < len(plain.data) / 2
    bbox = client.get("/api/layers/villages/geometry?zoom=14&bbox=103.7,29.7,103.9,29.9",
                      headers={"Accept-Encoding": "gzip"})
    assert json.loads(gzip.decompress(bbox.data))["numberMatched"] > 0


def test_pages_draw_heavy_villages_from_the_endpoint(app, villages):
    client = app.test_client()
    html = client.get("/coverage?layer=elderly_service_points&radius=3000").get_data(as_text=True)
    assert "L.geoserviceBulk(" in html and "/assets/geoservice/province.js" in html
    assert "/api/layers/villages/geometry?version=" in html
    # the villages' polygons are not in the page, their results are (joined by code)
    assert '"coordinates"' not in html.split("L.geoserviceBulk(")[1].split("\n")[0]
    for code in villages["code"]:
        assert f'["{code}",' in html
    home = client.get("/").get_data(as_text=True)
    assert "L.geoserviceBulk(" in home


def test_setting_zero_inlines_as_before(module_demo_workspace):
    app = make_app({"WORKSPACE": str(module_demo_workspace), "MAP_GEOMETRY_MIN_VERTICES": 0})
    html = app.test_client().get("/coverage").get_data(as_text=True)
    assert "L.geoserviceBulk(" not in html and "province.js" not in html
    default = make_app({"WORKSPACE": str(module_demo_workspace)})  # the demo stays inline
    assert "L.geoserviceBulk(" not in default.test_client().get("/").get_data(as_text=True)


def test_new_version_and_text_safe(demo_workspace):
    """A new version is simplified anew (the cache is per version); names are JSON text,
    inert in HTML; the page's join table carries them made safe."""
    app = make_app({"WORKSPACE": str(demo_workspace), **BULK})
    client = app.test_client()
    r, before = get(client, "/api/layers/villages/geometry?zoom=8")
    store = open_store(demo_workspace)
    v = store.read("villages")
    v.loc[v.index[0], "name"] = HOSTILE
    v.loc[v.index[1], "code"] = v["code"].iloc[1]  # unchanged code
    store.write("villages", v, source="test", source_crs="EPSG:4490")
    r, after = get(client, "/api/layers/villages/geometry?zoom=8")
    assert after["version"] == before["version"] + 1
    assert after["properties"]["name"][0] == HOSTILE
    assert before["properties"]["name"][0] != HOSTILE
    raw = r.get_data(as_text=True)
    assert "<" not in raw and ">" not in raw and "&amp;" not in raw  # \u003c, \u0026 …
    r, old = get(client, f"/api/layers/villages/geometry?zoom=8&version={before['version']}")
    assert old["properties"]["name"] == before["properties"]["name"]
    assert "max-age" in r.headers.get("Cache-Control", "")
    page = client.get("/coverage").get_data(as_text=True)
    assert HOSTILE not in page and "{{7*7}}" not in page


# -- the encoder at once (encode_many) against the one feature by feature
# (_encode_reference): the same strings, which province.js reads --


def _demo_geoms() -> np.ndarray:
    from geoservice.config import DEMO_WORKSPACE

    return np.asarray(open_store(DEMO_WORKSPACE).read("villages").geometry.values)


def _generated(n: int = 3000, seed: int = 7) -> np.ndarray:
    """A few thousand villages: Voronoi cells in about a county (lon/lat), some with
    holes, some of several parts, some smaller than a zoomed-out pixel."""
    rng = np.random.default_rng(seed)
    frame = shapely.box(110.0, 31.0, 111.2, 32.0)
    pts = rng.uniform((110.0, 31.0), (111.2, 32.0), (n, 2))
    cells = np.asarray(shapely.get_parts(shapely.voronoi_polygons(
        shapely.multipoints(pts), extend_to=frame, ordered=True)))
    cells = shapely.intersection(cells, frame)
    cells = shapely.segmentize(cells, 0.002)  # vertices for the simplification to drop
    for i in range(0, n, 17):  # a lake inside
        c = shapely.centroid(cells[i])
        cells[i] = cells[i].difference(shapely.buffer(c, 0.002, quad_segs=4))
    for i in range(5, n, 23):  # an exclave (may overlap a neighbour: stored as it is)
        x, y = rng.uniform((110.0, 31.0), (111.2, 32.0))
        cells[i] = shapely.union(cells[i], shapely.box(x, y, x + 0.0005, y + 0.0004))
    tiny = shapely.box(110.5, 31.5, 110.5 + 1e-6, 31.5 + 1e-6)
    return np.concatenate([cells, [tiny, None, shapely.Polygon(),
                                   shapely.GeometryCollection([tiny, shapely.Point(110, 31)])]])


@pytest.fixture(scope="module")
def layers_to_encode():
    return {"demo": _demo_geoms(), "generated": _generated()}


def _grid(geoms, zoom):
    from geoservice.web.geometry import grid_step

    step = grid_step(zoom)
    return np.floor(shapely.total_bounds(geoms)[:2] / step) * step, step


@pytest.mark.parametrize("layer", ["demo", "generated"])
@pytest.mark.parametrize("zoom", [6, 10, 14, 16])
def test_bulk_encoder_gives_the_reference_strings(layers_to_encode, layer, zoom):
    from geoservice.web.geometry import _encode_reference, encode_many, pixel_degrees

    geoms = layers_to_encode[layer]
    origin, step = _grid(geoms, zoom)
    simple = shapely.simplify(geoms, pixel_degrees(zoom), preserve_topology=True)
    on_grid = np.arange(len(geoms)) % 5 != 0  # and some checked (a collapsed feature)
    got = encode_many(simple, origin, step, on_grid)
    want = [_encode_reference(g, origin, step, on_grid=bool(o))
            for g, o in zip(simple, on_grid, strict=True)]
    assert got == want
    assert encode_many(geoms[:0], origin, step) == []


def test_bulk_encoder_odd_rings():
    """Closing point kept or not, repeated points, rings that collapse on the grid, holes
    that vanish, 3D coordinates, a single polygon array and a mixed one."""
    from geoservice.web.geometry import _encode_reference, encode_many

    origin, step = np.array([0.0, 0.0]), 1.0
    odd = [
        shapely.Polygon([(0, 0), (0.2, 0.1), (10, 0), (10, 0.4), (10, 10), (0, 10)]),
        shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)],
                        [[(2, 2), (2.1, 2.2), (2.2, 2.1)], [(5, 5), (7, 5), (7, 7)]]),
        shapely.Polygon([(0, 0), (0.3, 0), (0.3, 0.3)]),  # collapses: a tiny triangle
        shapely.MultiPolygon([shapely.box(0, 0, 4, 4), shapely.box(6, 6, 6.2, 6.2),
                              shapely.box(8, 8, 12, 12)]),
        shapely.Polygon([(0, 0, 1), (10, 0, 2), (10, 10, 3), (0, 10, 4)]),
        shapely.Polygon([(0, 0), (5, 0), (5, 0.4), (5, 5), (0, 5), (0, 0.3)]),
        shapely.box(-3.5, -2.5, 7.5, 1.5),
    ]
    geoms = np.array(odd, dtype=object)
    for on_grid in (True, False):
        assert encode_many(geoms, origin, step, on_grid) == [
            _encode_reference(g, origin, step, on_grid=on_grid) for g in odd]
    polys = np.array([odd[0], odd[1], odd[6]], dtype=object)
    assert encode_many(polys, origin, step) == [
        _encode_reference(g, origin, step, on_grid=True) for g in polys]


@pytest.mark.parametrize("layer", ["demo", "generated"])
@pytest.mark.parametrize("zoom", [8, 12])
def test_parts_match_the_snap_rounded_ones(layers_to_encode, layer, zoom):
    """Checking validity in bulk and snap-rounding only the features plain rounding
    breaks draws about the same shapes as snap-rounding them all (GEOS may start a ring
    elsewhere, add a node, or drop a part smaller than the grid that plain rounding
    keeps): valid, within a grid cell of the simplified features, about as large."""
    from geoservice.web.geometry import _parts, _parts_reference, pixel_degrees

    geoms = layers_to_encode[layer]
    origin, step = _grid(geoms, zoom)
    new, old = _parts(geoms, zoom, origin, step), _parts_reference(geoms, zoom, origin, step)
    assert len(new) == len(old)
    body = {"origin": origin.tolist(), "scale": step}
    n = [i for i, p in enumerate(new) if p != "[]"]
    assert n == [i for i, p in enumerate(old) if p != "[]"]
    a = np.asarray(decode({**body, "geometries": [json.loads(new[i]) for i in n]}))
    b = np.asarray(decode({**body, "geometries": [json.loads(old[i]) for i in n]}))
    assert shapely.is_valid(a).all()
    same = shapely.equals(a, b)
    assert same.mean() > 0.97
    simple = shapely.simplify(geoms[n], pixel_degrees(zoom), preserve_topology=True)
    assert shapely.covered_by(a, shapely.buffer(simple, step)).all()
    # rounding moves the outline by at most half a cell's diagonal
    assert np.all(np.abs(shapely.area(a) - shapely.area(simple))
                  <= shapely.length(simple) * step + 2 * step**2)


def test_pinyin_as_lazy_pinyin():
    """The pinyin (phrases converted once, names kept across versions) is what
    ``lazy_pinyin`` gives, polyphones by phrase included."""
    from pypinyin import Style, lazy_pinyin

    from geoservice.config import DEMO_WORKSPACE
    from geoservice.web.geometry import pinyin_of

    names = open_store(DEMO_WORKSPACE).read("villages")["name"].tolist()
    names += ["重庆村", "女儿湖 社区", "ABC长江3组", "绿水村", "吕家湾", "朝阳街道", "", None,
              HOSTILE, "长乐村", "长乐村"]

    def reference(name):
        if not isinstance(name, str) or not name:
            return ["", ""]
        syl = ["".join(ch for ch in p.lower() if ch.isascii() and ch.isalnum())
               for p in lazy_pinyin(name, style=Style.NORMAL)]
        syl = [p for p in syl if p]
        return ["".join(syl), "".join(p[0] for p in syl)]

    want = [reference(x) for x in names]
    assert pinyin_of(names) == want
    assert pinyin_of(names) == want  # from the cache
