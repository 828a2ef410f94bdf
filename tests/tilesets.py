"""Small tile sets made by the tests: PNG tiles (written with zlib, no imaging library), an
MBTiles file (the MBTiles 1.3 schema: ``metadata`` and ``tiles`` with TMS rows) and an
XYZ folder ``z/x/y.png``."""

from __future__ import annotations

import math
import sqlite3
import struct
import zlib
from pathlib import Path


def png(rgb: tuple[int, int, int], size: int = 256) -> bytes:
    """A solid ``size`` x ``size`` RGB PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    row = b"\x00" + bytes(rgb) * size
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * size, 9)) + chunk(b"IEND", b""))


def xyz_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The Web Mercator XYZ tile (x, y from the north) holding lon/lat at zoom z."""
    n = 2 ** z
    x = int((lon + 180.0) / 360.0 * n)
    r = math.radians(lat)
    y = int((1.0 - math.asinh(math.tan(r)) / math.pi) / 2.0 * n)
    return x, y


def make_mbtiles(path: Path, tiles: dict[tuple[int, int, int], bytes], *,
                 fmt: str | None = "png", name: str = "测试瓦片",
                 attribution: str = "测试底图") -> Path:
    """An MBTiles file with ``tiles`` ((z, x, y from the north) -> data); rows stored
    TMS-flipped as the specification says."""
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE metadata (name text, value text)")
    db.execute("CREATE TABLE tiles (zoom_level integer, tile_column integer, "
               "tile_row integer, tile_data blob)")
    db.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
    meta = {"name": name, "attribution": attribution, "type": "baselayer", "version": "1",
            "minzoom": str(min(z for z, _, _ in tiles)),
            "maxzoom": str(max(z for z, _, _ in tiles))}
    if fmt is not None:
        meta["format"] = fmt
    db.executemany("INSERT INTO metadata VALUES (?, ?)", list(meta.items()))
    db.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                   [(z, x, (1 << z) - 1 - y, data) for (z, x, y), data in tiles.items()])
    db.commit()
    db.close()
    return path


def make_folder(root: Path, tiles: dict[tuple[int, int, int], bytes], ext: str = "png") -> Path:
    """A tile folder ``root/z/x/y.<ext>``."""
    for (z, x, y), data in tiles.items():
        target = root / str(z) / str(x) / f"{y}.{ext}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root
