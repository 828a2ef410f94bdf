"""Local basemap tiles served by the app (geoservice/web/tiles.py): an MBTiles file (TMS rows
flipped to XYZ) and an XYZ folder; 404 for missing tiles and bad paths; cache headers;
bad files refused at start with a Chinese message naming the setting."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from fixtures import make_app
from tilesets import make_folder, make_mbtiles, png

from geoservice import create_app
from geoservice.config import ConfigError

RED, BLUE, GREEN = png((220, 30, 30)), png((30, 30, 220)), png((30, 160, 30))
# (z, x, y from the north): two tiles one above the other, so a missed flip shows
TILES = {(3, 6, 3): RED, (3, 6, 4): BLUE, (0, 0, 0): GREEN}


@pytest.fixture(scope="module")
def store_kind() -> str:
    """Tiles never touch the workspace store: one store kind is enough."""
    return "gpkg"


@pytest.fixture(scope="module")
def workspace(tiny_workspace_master, tmp_path_factory):
    """One copy of the tiny workspace for the module (apps here only read it)."""
    path = tmp_path_factory.mktemp("ws") / "tiny.gpkg"
    shutil.copyfile(tiny_workspace_master, path)
    return path


@pytest.fixture(scope="module")
def tile_sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiles")
    mbtiles = make_mbtiles(root / "county.mbtiles", TILES)
    folder = make_folder(root / "xyz", TILES)
    (root / "secret.png").write_bytes(b"not for you")
    (folder / "3" / "6" / "5.png").symlink_to(root / "secret.png")  # leads outside
    return {"mbtiles": mbtiles, "folder": folder, "root": root}


@pytest.fixture(scope="module")
def client(workspace, tile_sources):
    app = make_app({"WORKSPACE": str(workspace),
                    "BASEMAP_MBTILES": str(tile_sources["mbtiles"]),
                    "BASEMAP_XYZ_DIR": str(tile_sources["folder"]),
                    "ASSET_MAX_AGE": 600})
    return app.test_client()


def test_mbtiles_rows_are_flipped_to_xyz(client, tile_sources):
    # the file stores TMS rows: XYZ row 3 of zoom 3 is row 4 in the file
    db = sqlite3.connect(tile_sources["mbtiles"])
    assert db.execute("SELECT tile_data FROM tiles WHERE zoom_level=3 AND tile_column=6"
                      " AND tile_row=4").fetchone()[0] == RED
    db.close()
    for (z, x, y), data in TILES.items():
        r = client.get(f"/tiles/mbtiles/{z}/{x}/{y}.png")
        assert r.status_code == 200, (z, x, y)
        assert r.data == data and r.mimetype == "image/png"


def test_mbtiles_tiles_are_cached_and_revalidated(client):
    r = client.get("/tiles/mbtiles/3/6/3.png")
    assert r.cache_control.max_age == 600 and r.cache_control.public
    etag = r.headers["ETag"]
    again = client.get("/tiles/mbtiles/3/6/3.png", headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.data
    other = client.get("/tiles/mbtiles/3/6/4.png")
    assert other.headers["ETag"] != etag


@pytest.mark.parametrize("path", [
    "/tiles/mbtiles/3/6/2.png",  # not in the file
    "/tiles/mbtiles/3/6/3.jpg",  # not the file's format
    "/tiles/mbtiles/3/8/3.png",  # x beyond 2^z
    "/tiles/mbtiles/3/6/8.png",  # y beyond 2^z
    "/tiles/mbtiles/31/0/0.png",
    "/tiles/mbtiles/-1/0/0.png",
    "/tiles/mbtiles/3/6/3",
])
def test_mbtiles_missing_or_bad_addresses_are_404(client, path):
    assert client.get(path).status_code == 404


def test_folder_tiles(client):
    for (z, x, y), data in TILES.items():
        r = client.get(f"/tiles/xyz/{z}/{x}/{y}.png")
        assert r.status_code == 200 and r.data == data and r.mimetype == "image/png"
        r.close()
    r = client.get("/tiles/xyz/3/6/3.png")
    assert r.cache_control.max_age == 600
    etag = r.headers["ETag"]
    r.close()
    assert client.get("/tiles/xyz/3/6/3.png",
                      headers={"If-None-Match": etag}).status_code == 304


@pytest.mark.parametrize("path", [
    "/tiles/xyz/3/6/2.png",  # missing
    "/tiles/xyz/3/6/3.txt",  # not an image extension
    "/tiles/xyz/3/6/5.png",  # a link leading out of the folder
    "/tiles/xyz/../secret.png",
    "/tiles/xyz/3/6/..%2F..%2F..%2F..%2Fsecret.png",
    "/tiles/xyz/3/6/%2e%2e/3.png",
    "/tiles/xyz/3/x/3.png",
    "/tiles/xyz/03/6/3.png/../../../secret.png",
])
def test_folder_bad_paths_are_404(client, path):
    r = client.get(path)
    assert r.status_code == 404, path
    assert b"not for you" not in r.data


def test_unconfigured_tiles_are_404(workspace):
    client = make_app({"WORKSPACE": str(workspace)}).test_client()
    assert client.get("/tiles/mbtiles/0/0/0.png").status_code == 404
    assert client.get("/tiles/xyz/0/0/0.png").status_code == 404


def test_tiles_need_read_access(client):
    # the tiny workspace is not the demo: no anonymous reading, tiles included
    anonymous = client.application.test_client(token=None)
    assert anonymous.get("/tiles/mbtiles/3/6/3.png").status_code in (302, 401)


def test_format_is_read_from_the_tiles_when_metadata_has_none(workspace, tmp_path):
    mb = make_mbtiles(tmp_path / "noformat.mbtiles", {(0, 0, 0): GREEN}, fmt=None)
    app = make_app({"WORKSPACE": str(workspace), "BASEMAP_MBTILES": str(mb)})
    r = app.test_client().get("/tiles/mbtiles/0/0/0.png")
    assert r.status_code == 200 and r.data == GREEN and r.mimetype == "image/png"


@pytest.mark.parametrize("case", ["missing", "not sqlite", "no tiles table", "vector",
                                  "missing folder", "local crs", "tianditu key",
                                  "tianditu template", "tianditu url"])
def test_bad_basemap_settings_stop_the_start(case, workspace, tmp_path):
    config = {"WORKSPACE": str(workspace)}
    words = ""
    if case == "missing":
        config["BASEMAP_MBTILES"], words = str(tmp_path / "none.mbtiles"), "BASEMAP_MBTILES"
    elif case == "not sqlite":
        (tmp_path / "x.mbtiles").write_text("hello")
        config["BASEMAP_MBTILES"], words = str(tmp_path / "x.mbtiles"), "不是 MBTiles"
    elif case == "no tiles table":
        sqlite3.connect(tmp_path / "e.mbtiles").execute("CREATE TABLE metadata (name, value)")
        config["BASEMAP_MBTILES"], words = str(tmp_path / "e.mbtiles"), "不是 MBTiles"
    elif case == "vector":
        mb = make_mbtiles(tmp_path / "v.mbtiles", {(0, 0, 0): b"\x1a\x00"}, fmt="pbf")
        config["BASEMAP_MBTILES"], words = str(mb), "矢量瓦片"
    elif case == "missing folder":
        config["BASEMAP_XYZ_DIR"], words = str(tmp_path / "nope"), "BASEMAP_XYZ_DIR"
    elif case == "local crs":
        config["BASEMAP_LOCAL_CRS"], words = "bd09", "BASEMAP_LOCAL_CRS"
    elif case == "tianditu key":
        config["TIANDITU_KEY"], words = "abc&x=1", "TIANDITU_KEY"
    elif case == "tianditu template":
        config["TIANDITU_URL"], words = "http://tdt.intranet/{layer}/tiles", "{z}"
    elif case == "tianditu url":
        config["TIANDITU_URL"], words = "tdt.intranet", "TIANDITU_URL"
    with pytest.raises(ConfigError) as info:
        create_app(config)
    assert words in str(info.value)


def test_csp_allows_the_tianditu_hosts(workspace, tmp_path):
    app = create_app({"WORKSPACE": str(workspace), "TIANDITU_KEY": "0123abcd",
                      "BASEMAP_URL": "http://tiles.intranet:8080/{z}/{x}/{y}.png"})
    csp = app.test_client().get("/login").headers["Content-Security-Policy"]
    img = next(d for d in csp.split("; ") if d.startswith("img-src"))
    assert img == "img-src 'self' data: http://tiles.intranet:8080 https://*.tianditu.gov.cn"
    node = create_app({"WORKSPACE": str(workspace),
                       "TIANDITU_URL": "http://tdt.sc.intranet:81"})
    csp = node.test_client().get("/login").headers["Content-Security-Policy"]
    assert "img-src 'self' data: http://tdt.sc.intranet:81;" in csp
    local = create_app({"WORKSPACE": str(workspace),
                        "BASEMAP_MBTILES": str(make_mbtiles(
                            tmp_path / "csp.mbtiles", {(0, 0, 0): GREEN}))})
    csp = local.test_client().get("/login").headers["Content-Security-Policy"]
    assert "img-src 'self' data:;" in csp  # local tiles: this server only
