"""The coverage page on the road network draws the service areas along roads (not circles)
and names them in the legend; on the straight line it draws circles and no area."""

from __future__ import annotations

import re


def test_the_coverage_page_draws_road_service_areas(demo_app):
    client = demo_app.test_client()
    page = client.get("/coverage?layer=welfare_homes&cost=network&cost_field=time&radius=20")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    legend = html[html.index('<div class="gs-legend"'):]
    legend = legend[:legend.index("</details>")]
    assert "沿道路 20 分钟服务范围（沿道路可达，非圆形半径）" in legend
    assert "沿道路 20 分钟服务范围（各设施，默认隐藏）" in legend
    assert "服务半径 20" not in legend                       # no circle
    # the merged area is a polygon feature with its area in km² (escaped in the page)
    area = re.search(r'"_area": "([0-9.,]+) \\u5e73\\u65b9\\u516c\\u91cc"', html)
    assert area and float(area.group(1).replace(",", "")) > 1
    straight = client.get("/coverage?layer=welfare_homes&radius=5000").get_data(as_text=True)
    legend = straight[straight.index('<div class="gs-legend"'):]
    assert "服务范围" not in legend[:legend.index("</details>")]
