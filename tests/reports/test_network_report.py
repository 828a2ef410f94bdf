"""The road network check as a workbook: the summary figures are the check's, the tables
carry every part, dangling end and far point with Chinese headers."""

from __future__ import annotations

import io

import geopandas as gpd
import numpy as np
import shapely
from openpyxl import load_workbook

from geoservice.analysis.netcheck import check_network
from geoservice.analysis.network import build_graph
from geoservice.reports.network import network_xlsx

CRS = "EPSG:4547"


def test_the_workbook_lists_parts_dangles_and_far_points():
    # main road, a separate road 500 m away, and a road ending 5 m short of the main one
    lines = [[(0, 0), (3000, 0)], [(0, 500), (1000, 500)], [(2000, 5), (2000, 800)]]
    roads = gpd.GeoDataFrame({"name": ["主路", "=HYPERLINK(\"x\")", "支路"],
                              "road_class": ["county", "village", "township"]},
                             geometry=[shapely.LineString(g) for g in lines], crs=CRS)
    graph = build_graph(roads, CRS)
    villages = np.array([(100, 10), (500, 510), (2500, 3000)], float)
    result = check_network(graph, villages, ["1", "2", "3"], ["甲村", "乙村", "丙村"], {},
                           roads=roads, far_m=1000, dangle_m=20)
    wb = load_workbook(io.BytesIO(network_xlsx(result)))
    assert wb.sheetnames == ["汇总", "连通部分", "悬挂线端", "离路过远"]
    summary = {r[0]: r[1] for r in wb["汇总"].iter_rows(values_only=True) if r[0]}
    assert summary["连通部分数"] == 3 and summary["道路条数"] == 3
    parts = list(wb["连通部分"].iter_rows(values_only=True))
    assert parts[0][:2] == ("连通部分", "节点数") and len(parts) == 1 + 3
    dangles = list(wb["悬挂线端"].iter_rows(values_only=True))
    assert len(dangles) >= 2 and dangles[0][0] == "道路"
    far = list(wb["离路过远"].iter_rows(values_only=True))
    assert [r[2] for r in far[1:]] == ["丙村"]            # 2,205 m from the nearest road
    # text from data never becomes a formula
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f"
