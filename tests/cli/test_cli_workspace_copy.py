"""`python -m geoservice workspace copy SRC DST`: a whole workspace between stores.

The demo county (a private copy) gets more than the committed file holds: second versions
with missing values, a version that is not current, accounts, audit rows and job records
with a pickled result. It is copied GeoPackage → PostGIS → GeoPackage by the CLI in child
processes, and every version of every kind (values, dtypes, geometry byte for byte), the
info, the accounts, the audit rows (ids and times) and the job records must come back.
"""

from __future__ import annotations

import json
import pickle

import pandas as pd
import pytest
import shapely
from fixtures import run_cli

from geoservice.services import accounts, audit
from geoservice.services.accounts import Actor
from geoservice.services.jobs import JobRunner
from geoservice.services.workspace_copy import shown_workspace
from layers import open_store
from layers.schema import KINDS

ACTOR = Actor(name="规划甲", role="admin", address="10.0.0.7", via="token")


def enrich(path) -> None:
    """More of everything a workspace holds, on the demo county's copy at ``path``."""
    store = open_store(path)
    villages = store.read("villages")
    villages.loc[villages.index[:5], "elderly_population"] = pd.NA  # Int64 with gaps
    villages.loc[villages.index[5], "committee_name"] = None
    store.write("villages", villages, source="村界（修订）.geojson", source_crs="EPSG:4544",
                user="界线乙")
    homes = store.read("welfare_homes")
    homes.loc[homes.index[0], "accepts_disabled"] = pd.NA  # boolean with a gap
    homes.loc[homes.index[1], "beds"] = pd.NA
    store.write("welfare_homes", homes, source="福利院.xlsx", source_crs="EPSG:4490",
                user="规划甲")
    # a third version of the points, then back to the first: version 3 is current,
    # version 2 is a non-current one in between
    points = store.read("elderly_service_points")
    store.write("elderly_service_points", points.iloc[:10], source="服务点（部分）.csv",
                source_crs="gcj02", user="规划甲")
    store.write("elderly_service_points", store.read("elderly_service_points", version=1),
                source="恢复第 1 版", source_crs="EPSG:4523", user="规划甲")

    accounts.add_user(store, "规划甲", "planner", "password-1")
    accounts.add_user(store, "界线乙", "boundary", "password-2")
    accounts.new_token(store, "规划甲")
    accounts.set_active(store, "界线乙", False)
    for i in range(3):
        audit.record(store, ACTOR, "import", layer="villages", before=i, after=i + 1,
                     params={"file": f"村界{i}.geojson", "嵌套": {"列表": [1, 2.5, None]}},
                     result=f"导入 58 个要素，成为第 {i + 1} 版")
    audit.record(store, None, "login_failed", user="不存在的人", address="10.0.0.9",
                 result="用户名或密码错误")

    runner = JobRunner(store=store)
    done = runner.submit(lambda p, c: {"sites": [1, 2, 3], "说明": "结果"},
                         params={"layer": "elderly_service_points", "add": "3"},
                         label="最大覆盖 · 养老服务设施", owner="规划甲")

    def fail(p, c):
        from geoservice.errors import BadParameter
        raise BadParameter("参数 add 无效")

    failed = runner.submit(fail, params={"add": "x"}, label="失败的任务", owner="规划甲")
    assert done.wait(30) and failed.wait(30)
    store.save_job({"id": "cafe00000001", "owner": None, "label": "已中断的任务",
                    "state": "interrupted", "progress": 0.375, "message": "服务重启，计算中断",
                    "error": None, "params": {"add": "2"}, "created": "2026-11-20T08:00:00+08:00",
                    "started": "2026-11-20T08:00:01+08:00", "finished": None, "result": None})


def snapshot(path_or_url) -> dict:
    """Everything a workspace holds, in comparable form: frames as (dtypes, values, WKB)."""
    store = open_store(path_or_url)
    layers = {}
    for kind in KINDS:
        for v in store.versions(kind):
            gdf = store.read(kind, version=v.version)
            attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
            layers[(kind, v.version)] = {
                "meta": v.to_dict(),
                "crs": gdf.crs.to_epsg(),
                "frame": attrs,
                "wkb": list(shapely.to_wkb(gdf.geometry.values, output_dimension=2)),
            }
    return {"info": store.info(), "layers": layers, "users": store.users(),
            "audit": store.audit_rows(), "jobs": store.job_records()}


def assert_same_layers(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for key, w in want.items():
        g = got[key]
        assert g["meta"] == w["meta"], key
        assert g["crs"] == w["crs"] == 4490, key
        assert list(g["frame"].columns) == list(w["frame"].columns), key
        pd.testing.assert_frame_equal(g["frame"].reset_index(drop=True),
                                      w["frame"].reset_index(drop=True),
                                      check_dtype=True, check_exact=True, obj=str(key))
        assert g["wkb"] == w["wkb"], key  # every coordinate, bit for bit


def copy(src, dst, *extra):
    r = run_cli("workspace", "copy", src, dst, *extra)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


@pytest.fixture
def rich_workspace(demo_workspace):
    enrich(demo_workspace)
    return demo_workspace


def test_round_trip_geopackage_postgis_geopackage_loses_nothing(rich_workspace, pg_url,
                                                               tmp_path):
    original = snapshot(rich_workspace)
    assert ("elderly_service_points", 3) in original["layers"]
    assert not original["layers"][("elderly_service_points", 2)]["meta"]["current"]
    assert original["layers"][("villages", 2)]["frame"]["elderly_population"].isna().sum() == 5
    assert len(original["users"]) == 2 and len(original["audit"]) == 4
    assert {j["state"] for j in original["jobs"]} == {"done", "failed", "interrupted"}

    r = copy(rich_workspace, pg_url, "--json")
    summary = json.loads(r.stdout)
    assert summary["versions"] == len(original["layers"]) == 14  # 10 demo layers + 4 versions
    assert summary["users"] == 2 and summary["audit_rows"] == 4 and summary["jobs"] == 3
    assert [x["kind"] for x in summary["layers"]] == [k for k in KINDS if any(
        kind == k for kind, _ in original["layers"])]
    assert {x["kind"]: x["versions"] for x in summary["layers"]}["elderly_service_points"] \
        == [1, 2, 3]
    # progress went to stderr with --json: one line per layer kind, in Chinese
    assert "图层“养老服务设施”（elderly_service_points）：3 个版本（第 1–3 版，当前为第 3 版）" \
        in r.stderr
    assert sum("已复制" in line and line.startswith("图层") for line in r.stderr.splitlines()) \
        == len(summary["layers"])

    middle = snapshot(pg_url)
    assert_same_layers(middle["layers"], original["layers"])

    back = tmp_path / "back.gpkg"
    r = copy(pg_url, back)
    assert "完成：10 个图层、14 个版本" in r.stdout and "图层“村(社区)”（villages）" in r.stdout
    final = snapshot(back)

    assert_same_layers(final["layers"], original["layers"])
    assert final["info"] == middle["info"] == original["info"]
    assert final["users"] == middle["users"] == original["users"]
    assert final["jobs"] == middle["jobs"] == original["jobs"]
    done = next(j for j in final["jobs"] if j["state"] == "done")
    assert pickle.loads(done["result"]) == {"sites": [1, 2, 3], "说明": "结果"}  # noqa: S301

    # the audit trail: the original rows as they were (ids, times, params), then one
    # workspace_copy row per copy, numbered after them
    copies = [row for row in final["audit"] if row["action"] == "workspace_copy"]
    kept = [row for row in final["audit"] if row["action"] != "workspace_copy"]
    assert kept == original["audit"]
    assert [row["id"] for row in copies] == [6, 5]
    first, second = copies[1], copies[0]
    assert first["params"]["source"] == str(rich_workspace)
    assert first["params"]["target"] == shown_workspace(pg_url)  # never a password
    assert second["params"]["source"] == shown_workspace(pg_url)
    assert second["params"]["audit_rows"] == 5
    assert first["params"]["versions"] == 14 and first["params"]["jobs"] == 3
    assert first["user"].endswith("（命令行）") and first["address"] == "local"
    assert [row for row in middle["audit"] if row["action"] == "workspace_copy"] == [first]

    # the copy is a working workspace: the next import numbers after the copied versions
    store = open_store(back)
    v = store.write("villages", store.read("villages", version=1), source="x.geojson",
                    source_crs="EPSG:4490")
    assert v.version == 3


def test_a_workspace_that_is_not_empty_is_refused_and_unchanged(rich_workspace, tmp_path):
    target = tmp_path / "target.gpkg"
    copy(rich_workspace, target)
    before = snapshot(target)
    other = tmp_path / "other.gpkg"
    store = open_store(other)
    accounts.add_user(store, "某人", "viewer", "password-9")
    for dst in (target, other):
        r = run_cli("workspace", "copy", rich_workspace, dst)
        assert r.returncode == 1
        line = r.stderr.strip()
        assert "\n" not in line and "Traceback" not in r.stderr
        assert line.startswith("错误：目标工作空间") and "不是空的" in line
        assert "未复制任何内容" in line
    assert "已有 14 个图层版本、2 个用户、5 条操作记录、3 个计算任务" in \
        run_cli("workspace", "copy", rich_workspace, target).stderr
    after = snapshot(target)
    assert_same_layers(after["layers"], before["layers"])
    assert after["audit"] == before["audit"] and after["users"] == before["users"]
    assert after["jobs"] == before["jobs"]
    assert [u["name"] for u in open_store(other).users()] == ["某人"]
    assert open_store(other).audit_rows() == []


def test_a_postgis_target_that_is_not_empty_is_refused(rich_workspace, pg_url):
    copy(rich_workspace, pg_url)
    before = snapshot(pg_url)
    r = run_cli("workspace", "copy", rich_workspace, pg_url)
    assert r.returncode == 1 and "不是空的" in r.stderr and "Traceback" not in r.stderr
    after = snapshot(pg_url)
    assert after["audit"] == before["audit"] and after["jobs"] == before["jobs"]
    assert_same_layers(after["layers"], before["layers"])


def test_a_missing_source_or_the_same_workspace_is_refused(rich_workspace, tmp_path):
    missing = tmp_path / "nope.gpkg"
    r = run_cli("workspace", "copy", missing, tmp_path / "dst.gpkg")
    assert r.returncode == 1 and "源工作空间文件" in r.stderr and "不存在" in r.stderr
    assert not missing.exists() and not (tmp_path / "dst.gpkg").exists()
    r = run_cli("workspace", "copy", rich_workspace, rich_workspace)
    assert r.returncode == 1 and "同一个" in r.stderr


def test_a_password_in_a_url_is_never_printed_or_audited(rich_workspace, pg_url):
    from urllib.parse import urlsplit

    parts = urlsplit(pg_url)
    password = parts.password
    url = pg_url
    if not password:  # a server that trusts local connections ignores a password given
        password = "s3cret-pw"
        url = parts._replace(netloc=f"{parts.username}:{password}@{parts.hostname}:"
                                    f"{parts.port}").geturl()
    assert shown_workspace(url) == url.replace(f":{password}@", ":***@")
    assert shown_workspace("postgres://u:p@h/db") == "postgres://u:***@h/db"
    assert shown_workspace(str(rich_workspace)) == str(rich_workspace)
    r = copy(rich_workspace, url)
    assert password not in r.stdout + r.stderr and ":***@" in r.stdout
    row = open_store(url).audit_rows(action="workspace_copy")[0]
    assert password not in json.dumps(row, ensure_ascii=False)
    assert row["params"]["target"] == shown_workspace(url)
