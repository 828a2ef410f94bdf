"""Accounts and roles on the web: every state-changing endpoint × every role (allowed, or
refused in Chinese naming the role with nothing changed), anonymous read on/off, login,
logout, change of password, throttling (an injected clock, no sleeps), API tokens, CSRF
and the audit rows each action writes."""

from __future__ import annotations

import logging
import re

import pytest
from fixtures import PASSWORD, add_account, make_app

from geoservice.services.accounts import ROLES
from layers import open_store

MCLP = {"layer": "elderly_service_points", "radius": 2000, "add": 2}
MERGE = {"codes": "511425102200,511425102201", "name": "甲合村", "layer": "villages"}
# each allowed role applies its own merge (the first one's villages are gone after it)
MERGES = {"boundary": {"codes": "511425108200,511425108201", "name": "乙合村",
                       "layer": "villages"}}
ALLOWED = {  # endpoint -> roles that may use it (admin always)
    "import_villages": {"admin", "boundary"},
    "import_points": {"admin", "planner"},
    "import_labels": {"admin", "placenames"},
    "job_start": {"admin", "planner"},
    "siting_sync": {"admin", "planner"},
    "page_start": {"admin", "planner"},
    "accept": {"admin", "planner"},
    "merge_apply": {"admin", "boundary"},
    "merge_page_apply": {"admin", "boundary"},
}

PAGES = {"import_points", "page_start", "merge_page_apply"}  # form posts to pages


@pytest.fixture
def app(tiny_app):
    return tiny_app


def _store(app):
    return open_store(app.config["WORKSPACE"])


def _tokens(app) -> dict[str, str]:
    return {role: add_account(app, f"u_{role}", role) for role in ROLES}


def _points_csv(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("名称,层级,床位数,经度,纬度\n新站,village_station,5,103.72,29.83\n",
                    encoding="utf-8")
    return path


def _villages_file(app, tmp_path):
    path = tmp_path / "v.geojson"
    _store(app).read("villages").to_file(path, driver="GeoJSON")
    return path


def _labels_csv(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("名称,经度,纬度\n甲一村,103.72,29.83\n", encoding="utf-8")
    return path


def _finished_job(app, admin) -> str:
    r = admin.post("/api/siting/jobs", json=MCLP)
    assert r.status_code == 202, r.get_json()
    job = app.extensions["siting_jobs"].get(r.get_json()["id"])
    assert job.wait(60) and job.state == "done", job.to_dict()
    return job.id


def _call(name, client, app, tmp_path, job_id, role=None):
    merge = MERGES.get(role, MERGE)
    if name == "import_villages":
        with open(_villages_file(app, tmp_path), "rb") as f:
            return client.post("/api/layers/villages", data={"file": (f, "v.geojson")})
    if name == "import_points":
        with open(_points_csv(tmp_path), "rb") as f:
            return client.post("/upload", data={"kind": "elderly_service_points",
                                                "file": (f, "points.csv")})
    if name == "import_labels":
        with open(_labels_csv(tmp_path), "rb") as f:
            return client.post("/api/layers/place_labels", data={"file": (f, "labels.csv")})
    if name == "job_start":
        return client.post("/api/siting/jobs", json=MCLP)
    if name == "siting_sync":
        return client.post("/api/siting", json=MCLP)
    if name == "page_start":
        return client.post("/siting", data={k: str(v) for k, v in MCLP.items()})
    if name == "accept":
        return client.post("/api/siting/accept", json={"job": job_id, "ranks": [1],
                                                       "scenario": f"测试方案 {role}"})
    if name == "merge_apply":
        return client.post("/api/boundaries/merge", json={**merge, "apply": 1})
    if name == "merge_page_apply":
        return client.post("/boundaries/merge", data={**merge, "apply": "1"})
    raise AssertionError(name)


def _state(app):
    store = _store(app)
    runner = app.extensions["siting_jobs"]
    return ({k: v.version for k, v in store.current_versions().items()},
            sorted(j.id for j in runner.jobs()))


@pytest.mark.parametrize("endpoint", list(ALLOWED))
def test_every_role_on_every_state_changing_endpoint(app, tmp_path, endpoint):
    tokens = _tokens(app)
    admin = app.test_client()
    job_id = _finished_job(app, admin) if endpoint == "accept" else None
    for role in [*ROLES, None]:
        client = app.test_client(token=tokens[role] if role else None)
        before = _state(app)
        audit_before = len(_store(app).audit_rows())
        r = _call(endpoint, client, app, tmp_path, job_id, role)
        if role in ALLOWED[endpoint]:
            assert r.status_code in (200, 201, 202, 303), (endpoint, role, r.data[:300])
            for job in app.extensions["siting_jobs"].jobs():
                job.wait(60)  # its job_start row is written when it starts
            continue
        text = r.get_data(as_text=True)
        if role is None and endpoint in PAGES:  # a page sends the anonymous to /login
            assert r.status_code == 302 and r.headers["Location"].startswith("/login"), endpoint
        else:
            assert r.status_code == (403 if role else 401), (endpoint, role, r.status_code)
        if role:
            assert "管理员" in text and ROLES[role] in text, (endpoint, role)
            needed = ALLOWED[endpoint] - {"admin"}
            assert all(ROLES[n] in text for n in needed), (endpoint, role, text[:300])
        elif endpoint not in PAGES:
            assert "登录" in text
        assert _state(app) == before, (endpoint, role)  # no version, no job
        assert len(_store(app).audit_rows()) == audit_before
    for job in app.extensions["siting_jobs"].jobs():
        job.wait(60)


def test_refused_accept_writes_no_planned_sites(app):
    tokens = _tokens(app)
    job_id = _finished_job(app, app.test_client())
    for role in ("viewer", "boundary", "placenames"):
        r = app.test_client(token=tokens[role]).post(
            "/api/siting/accept", json={"job": job_id, "ranks": [1], "scenario": "方案"})
        assert r.status_code == 403 and "规划人员" in r.get_json()["error"]
    assert "planned_sites" not in _store(app).current_versions()


def test_cancel_needs_the_planner_role_and_is_audited(app):
    tokens = _tokens(app)
    planner = app.test_client(token=tokens["planner"])
    job = planner.post("/api/siting/jobs", json={**MCLP, "add": 3}).get_json()
    for role in ("viewer", "boundary"):
        r = app.test_client(token=tokens[role]).delete(f"/api/siting/jobs/{job['id']}")
        assert r.status_code == 403 and "规划人员" in r.get_json()["error"]
    assert app.test_client(token=None).post(
        f"/api/siting/jobs/{job['id']}/cancel").status_code == 401
    r = planner.delete(f"/api/siting/jobs/{job['id']}")
    assert r.status_code == 202
    app.extensions["siting_jobs"].get(job["id"]).wait(60)
    rows = _store(app).audit_rows(action="job_cancel")
    assert len(rows) == 1 and rows[0]["user"] == "u_planner"
    assert rows[0]["params"]["job"] == job["id"]
    started = _store(app).audit_rows(action="job_start")
    assert started and started[0]["user"] == "u_planner"
    assert started[0]["params"]["job"] == job["id"]
    # the per-user queue counts the account, not the address
    assert app.extensions["siting_jobs"].get(job["id"]).owner == "u_planner"


def test_audit_rows_for_import_accept_and_merge(app, tmp_path):
    admin = app.test_client()
    store = _store(app)
    v_before = store.current_versions()["elderly_service_points"].version
    with open(_points_csv(tmp_path), "rb") as f:
        r = admin.post("/api/layers/elderly_service_points", data={"file": (f, "点.csv")})
    assert r.status_code == 201
    row = store.audit_rows(action="import")[0]
    assert row["user"] == "admin" and row["layer"] == "elderly_service_points"
    assert (row["version_before"], row["version_after"]) == (v_before, v_before + 1)
    assert row["params"]["file"] == "点.csv" and row["address"] == "127.0.0.1"
    assert store.versions("elderly_service_points")[-1].user == "admin"

    job_id = _finished_job(app, admin)
    r = admin.post("/api/siting/accept", json={"job": job_id, "ranks": [1, 2],
                                               "scenario": "十四五"})
    assert r.status_code == 201
    row = store.audit_rows(action="accept_plan")[0]
    assert row["layer"] == "planned_sites" and row["version_before"] is None
    assert row["version_after"] == 1 and row["params"]["scenario"] == "十四五"
    assert store.versions("planned_sites")[-1].user == "admin"

    v_before = store.current_versions()["villages"].version
    r = admin.post("/api/boundaries/merge", json={**MERGE, "apply": 1})
    assert r.status_code == 201, r.get_json()
    row = store.audit_rows(action="merge_apply")[0]
    assert row["layer"] == "villages" and row["user"] == "admin"
    assert (row["version_before"], row["version_after"]) == (v_before, v_before + 1)
    assert store.versions("villages")[-1].user == "admin"


# --- reading without an account -------------------------------------------------------

@pytest.mark.parametrize("setting", [None, 0])
def test_anonymous_read_off(tiny_workspace, setting):
    config = {"WORKSPACE": str(tiny_workspace)}
    if setting is not None:
        config["ANONYMOUS_READ"] = setting
    c = make_app(config).test_client(token=None)
    r = c.get("/coverage?radius=3000")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=")
    assert "coverage" in r.headers["Location"]
    for path in ("/api/layers", "/api/coverage", "/ogcapi/collections", "/ogcapi"):
        r = c.get(path)
        assert r.status_code == 401 and "登录" in r.get_json()["error"], path
    assert c.get("/login").status_code == 200


def test_anonymous_read_on_and_the_environment(tiny_workspace, demo_workspace, monkeypatch):
    c = make_app({"WORKSPACE": str(tiny_workspace), "ANONYMOUS_READ": 1}).test_client(token=None)
    assert c.get("/").status_code == 200 and c.get("/api/layers").status_code == 200
    assert c.get("/ogcapi/collections?f=json").status_code == 200
    # the demo county is readable by default; the environment can turn that off
    assert make_app({"WORKSPACE": str(demo_workspace)}).test_client(token=None) \
        .get("/api/layers").status_code == 200
    monkeypatch.setenv("GEOSERVICE_ANONYMOUS_READ", "0")
    assert make_app({"WORKSPACE": str(demo_workspace)}).test_client(token=None) \
        .get("/api/layers").status_code == 401
    monkeypatch.setenv("GEOSERVICE_ANONYMOUS_READ", "1")
    assert make_app({"WORKSPACE": str(tiny_workspace)}).test_client(token=None) \
        .get("/api/layers").status_code == 200
    monkeypatch.setenv("GEOSERVICE_ANONYMOUS_READ", "2")
    from geoservice.config import ConfigError

    with pytest.raises(ConfigError, match="ANONYMOUS_READ"):
        make_app({"WORKSPACE": str(tiny_workspace)})


# --- login, logout, password ------------------------------------------------------------

def _csrf(client, path="/login") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _login(client, name, password, next_url=None):
    data = {"username": name, "password": password, "csrf_token": _csrf(client)}
    if next_url:
        data["next"] = next_url
    return client.post("/login", data=data)


def test_login_logout_and_the_header(app, caplog):
    add_account(app, "张三", "planner")
    c = app.test_client(token=None)
    page = c.get("/login").get_data(as_text=True)
    for field in ('name="username"', 'name="password"', 'name="csrf_token"', "登录"):
        assert field in page
    caplog.set_level(logging.DEBUG)
    r = _login(c, "张三", PASSWORD, next_url="/coverage?radius=3000")
    assert r.status_code == 303 and r.headers["Location"] == "/coverage?radius=3000"
    home = c.get("/").get_data(as_text=True)
    assert "张三（规划人员）" in home and "退出" in home and "修改密码" in home
    assert PASSWORD not in caplog.text
    r = c.post("/logout", data={"csrf_token": _csrf(c, "/")})
    assert r.status_code == 303
    assert c.get("/").status_code == 302  # tiny county: reading needs an account again


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil",
                                    "javascript:alert(1)"])
def test_next_only_goes_to_a_local_path(app, target):
    add_account(app, "李四", "viewer")
    r = _login(app.test_client(token=None), "李四", PASSWORD, next_url=target)
    assert r.status_code == 303 and r.headers["Location"] == "/"


def test_failed_login_is_audited_without_the_password(app, caplog):
    add_account(app, "王五", "viewer")
    c = app.test_client(token=None)
    caplog.set_level(logging.DEBUG)
    r = _login(c, "王五", "wrong-secret-77")
    assert r.status_code == 401 and "用户名或密码错误" in r.get_data(as_text=True)
    rows = _store(app).audit_rows(action="login_failed")
    assert len(rows) == 1 and rows[0]["user"] == "王五" and rows[0]["address"] == "127.0.0.1"
    assert "wrong-secret-77" not in repr(_store(app).audit_rows())
    assert "wrong-secret-77" not in caplog.text
    record = _store(app).user("王五")
    assert PASSWORD not in repr(record) and record["password_hash"].startswith(("scrypt", "pbkdf2"))


def test_repeated_failures_back_off_with_an_injected_clock(app):
    add_account(app, "赵六", "viewer")
    now = [1000.0]
    app.extensions["login_throttle"].clock = lambda: now[0]
    c = app.test_client(token=None)
    for _ in range(5):
        assert _login(c, "赵六", "nope-nope-1").status_code == 401
    r = _login(c, "赵六", PASSWORD)  # even the right password is refused while waiting
    assert r.status_code == 429 and "过多" in r.get_data(as_text=True)
    assert len(_store(app).audit_rows(action="login_failed")) == 5
    other = app.test_client(token=None)
    other.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    assert _login(other, "赵六", PASSWORD).status_code == 303  # another address is not held
    now[0] += 31
    assert _login(c, "赵六", "nope-nope-1").status_code == 401  # 6th failure: 60 s now
    now[0] += 59
    assert _login(c, "赵六", PASSWORD).status_code == 429
    now[0] += 2
    assert _login(c, "赵六", PASSWORD).status_code == 303
    app.test_client(token=None)  # success reset the count: five more tries before a wait
    c2 = app.test_client(token=None)
    for _ in range(4):
        assert _login(c2, "赵六", "nope-nope-1").status_code == 401
    assert _login(c2, "赵六", PASSWORD).status_code == 303


def test_change_password(app):
    add_account(app, "钱七", "planner")
    c = app.test_client(token=None)
    assert _login(c, "钱七", PASSWORD).status_code == 303
    other = app.test_client(token=None)
    assert _login(other, "钱七", PASSWORD).status_code == 303
    page = c.get("/password").get_data(as_text=True)
    assert "修改密码" in page
    token = _csrf(c, "/password")
    r = c.post("/password", data={"old_password": "wrong-one-1", "new_password": "n3w-password",
                                  "new_password2": "n3w-password", "csrf_token": token})
    assert r.status_code == 400 and "当前密码不正确" in r.get_data(as_text=True)
    r = c.post("/password", data={"old_password": PASSWORD, "new_password": "short",
                                  "new_password2": "short", "csrf_token": token})
    assert r.status_code == 400 and "至少 8 个字符" in r.get_data(as_text=True)
    r = c.post("/password", data={"old_password": PASSWORD, "new_password": "n3w-password",
                                  "new_password2": "n3w-password", "csrf_token": token})
    assert r.status_code == 200 and "密码已修改" in r.get_data(as_text=True)
    assert c.get("/").status_code == 200  # this session stays
    assert other.get("/").status_code == 302  # the other session ended
    assert "n3w-password" not in repr(_store(app).audit_rows())
    assert _store(app).audit_rows(action="user_change")[0]["user"] == "钱七"
    assert _login(app.test_client(token=None), "钱七", "n3w-password").status_code == 303
    assert app.test_client(token=None).get("/password").status_code == 302


# --- tokens and CSRF --------------------------------------------------------------------

def test_tokens(app, tmp_path):
    token = add_account(app, "孙八", "planner")
    c = app.test_client(token=token)
    with open(_points_csv(tmp_path), "rb") as f:  # no CSRF token needed with a Bearer token
        assert c.post("/api/layers/elderly_service_points",
                      data={"file": (f, "p.csv")}).status_code == 201
    bad = app.test_client(token="not-a-token")
    for path in ("/api/layers", "/ogcapi/collections"):
        r = bad.get(path)
        assert r.status_code == 401 and "令牌" in r.get_json()["error"]
    assert bad.post("/api/siting/jobs", json=MCLP).status_code == 401
    from geoservice.services.accounts import set_active

    set_active(_store(app), "孙八", False)
    assert c.get("/api/layers").status_code == 401


def test_session_post_without_csrf_token_is_refused(app, tmp_path):
    add_account(app, "周九", "admin")
    c = app.test_client(token=None)
    assert _login(c, "周九", PASSWORD).status_code == 303
    before = _state(app)
    with open(_points_csv(tmp_path), "rb") as f:
        r = c.post("/api/layers/elderly_service_points", data={"file": (f, "p.csv")})
    assert r.status_code == 400 and "CSRF" in r.get_json()["error"]
    r = c.post("/api/siting/jobs", json=MCLP)
    assert r.status_code == 400
    r = c.post("/boundaries/merge", data={**MERGE, "apply": "1"})
    assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)
    assert _state(app) == before
    # with the page's token (the form field or the header) the same calls work
    token = re.search(r'name="csrf-token" content="([^"]+)"',
                      c.get("/").get_data(as_text=True)).group(1)
    r = c.post("/api/siting/jobs", json=MCLP, headers={"X-CSRFToken": token})
    assert r.status_code == 202
    app.extensions["siting_jobs"].get(r.get_json()["id"]).wait(60)
    r = c.post("/boundaries/merge", data={**MERGE, "apply": "1", "csrf_token": token})
    assert r.status_code == 200 and _state(app)[0]["villages"] == before[0]["villages"] + 1
