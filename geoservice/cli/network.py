"""`python -m geoservice network check`: the road network check from the shell.

The service (geopandas, shapely, scipy) is imported in the command body, so
``network --help`` starts without them.
"""

from __future__ import annotations

import click

from geoservice.cli.common import echo_json, open_workspace


@click.group("network", help="道路网：检查道路图层（连通部分、悬挂线端、离路过远的村和设施）。"
                             "各分析按道路计算出行成本时用 --cost network（见 docs/network.md）。")
def command() -> None:
    pass


@command.command("check", help="道路网检查：互不连通的部分（各部分的村、设施数）、距另一条道路很近却未连接的"
                               "线端（疑似数字化错误）、离最近道路过远的村(社区)和设施。")
@click.option("--network", default=None, help="道路网图层，默认 roads（道路）。")
@click.option("--far", default=None,
              help="离路过远阈值（米）：村或设施到最近道路超过此距离时列出；默认取 defaults.toml "
                   "[network] check_far_m。")
@click.option("--dangle", default=None,
              help="悬挂线端距离（米）：线端距另一条道路在此距离内却未连接时列出；默认取 "
                   "defaults.toml [network] dangle_m。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出完整结果。")
@click.pass_context
def check(ctx, network, far, dangle, as_json) -> None:
    from geoservice.services.network import network_check_params, run_network_check

    store = open_workspace(ctx)
    params = network_check_params(network, far, dangle)
    result = run_network_check(store, params)
    if as_json:
        echo_json(result.to_dict())
        return
    s = result.summary
    click.echo(f"道路网检查：{s['network_label']}图层（{s['network']}），道路 {s['roads']} 条，"
               f"节点 {s['junctions']} 个，总长 {s['length_km']:,.1f} 公里")
    click.echo(f"连接容差 {s['snap_tolerance_m']:g} 米；离路过远阈值 {s['far_m']:g} 米；"
               f"悬挂线端距离 {s['dangle_m']:g} 米（{s['source']}）")
    click.echo("各等级默认车速：" + "、".join(f"{k} {v:g} km/h"
                                         for k, v in s["speed_labels"].items()))
    for line in s["findings"]:
        click.echo(f"- {line}")
    click.echo("连通部分：")
    for row in result.parts.head(20).itertuples():
        click.echo(f"  {row.label}：节点 {row.junctions} 个，{row.length_km:,.2f} 公里，"
                   f"村(社区) {row.villages} 个，设施 {row.facilities} 个")
    if len(result.parts) > 20:
        click.echo(f"  ……共 {len(result.parts)} 个部分（完整清单用 --json）")
    if len(result.dangles):
        click.echo("悬挂线端（前 20 处）：")
        for row in result.dangles.head(20).itertuples():
            click.echo(f"  {row.distance_m:.1f} 米  {row.road} → {row.near_road}  "
                       f"({row.lon:.6f}, {row.lat:.6f})")
    if len(result.far):
        click.echo("离最近道路过远（前 20 个）：")
        for row in result.far.head(20).itertuples():
            click.echo(f"  {row.layer_label} {row.name} {row.code} 距道路 {row.snap_m:,.0f} 米")
