"""The home map draws a roads layer as lines styled by class, with a legend entry per class
present, between the village polygons and the points."""

from __future__ import annotations

import geopandas as gpd
import shapely

from maps.overview import overview_map
from maps.style import ROAD_STYLES


def test_roads_are_drawn_by_class_with_a_legend():
    roads = gpd.GeoDataFrame(
        {"name": ["国道G213（示例）", "<b>村道</b>"], "road_class": ["national", "village"],
         "speed_kmh": [60.0, None]},
        geometry=[shapely.LineString([(103.8, 29.8), (103.9, 29.85)]),
                  shapely.LineString([(103.85, 29.8), (103.85, 29.9)])], crs="EPSG:4490")
    html = overview_map({"roads": roads}, title="道路").get_root().render()
    legend = html[html.index('<div class="gs-legend"'):]
    legend = legend[:legend.index("</details>")]
    # one line symbol per class present, in the class's colour, and no other class
    for cls, label in (("national", "国道"), ("village", "村道")):
        assert f'border:2px solid {ROAD_STYLES[cls][0]};background:none"></span>{label}' in legend
    assert "省道" not in legend and "高速公路" not in legend
    assert '"_road_class": "national"' in html       # what the style function reads
    assert "<b>村道</b>" not in html                    # text from data stays inert
