/* A plan's page (templates/plan.html): the plan's sites on the map (the empty "sites"
 * layer of maps/plans.py plan_map) and in the table, edited through the JSON API
 * (/api/plans/<name>/sites, /undo, /restore, /api/plans/<name>): drag a marker to move
 * a site, "添加站点" then a click on the map to add one, edit and remove from the table.
 * Every change is sent with the planned_sites version the page last saw (base); the reply
 * carries the plan as it is now, which the page then shows. Errors (Chinese, from the API)
 * are shown on the page. Text from data is only ever put into the page as text nodes.
 */
(function () {
  "use strict";

  var cfgEl = document.getElementById("plan-config");
  var gs = window.geoservice || {};
  if (!cfgEl || !gs.map || !gs.layers || !gs.layers.sites) { return; }
  var cfg = JSON.parse(cfgEl.textContent);
  var plan = cfg.plan;
  var map = gs.map, group = gs.layers.sites;
  var csrf = document.querySelector("meta[name=csrf-token]");
  var msg = document.getElementById("plan-message");
  var toGcj = cfg.shifted && L.geoserviceViewport ? L.geoserviceViewport.wgsToGcj : null;
  var markers = {};
  var selected = null;
  var adding = false;
  var queue = Promise.resolve();

  // --- positions: stored CGCS2000 lon/lat <-> as drawn (GCJ-02 on such a basemap) --------
  function drawn(lon, lat) { return toGcj ? toGcj(lon, lat) : [lon, lat]; }
  function stored(lng, lat) {
    if (!toGcj) { return [lng, lat]; }
    var x = lng, y = lat;
    for (var i = 0; i < 8; i++) {  // the inverse of the shift by fixed-point iteration
      var s = toGcj(x, y);
      x -= s[0] - lng;
      y -= s[1] - lat;
    }
    return [x, y];
  }
  function round7(v) { return Math.round(v * 1e7) / 1e7; }

  // --- messages ------------------------------------------------------------------------
  function say(text, ok) {
    msg.textContent = text;
    msg.className = ok ? "gs-ok" : "gs-error";
    msg.hidden = false;
  }

  function request(method, url, body) {
    var headers = {"Accept": "application/json"};
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    if (method !== "GET" && csrf) { headers["X-CSRFToken"] = csrf.content; }
    return fetch(url, {method: method, headers: headers, credentials: "same-origin",
                       cache: "no-store",
                       body: body === undefined ? undefined : JSON.stringify(body)})
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (!r.ok) {
            var e = new Error(j.error || ("请求失败（HTTP " + r.status + "），未做修改"));
            e.status = r.status;
            throw e;
          }
          return j;
        });
      }, function () { throw new Error("无法连接服务器，修改未保存；请检查网络后重试"); });
  }

  /* Send one change after the previous ones (each with the version the last reply gave);
     resolves true when it was saved, false (message shown) when it was refused. */
  function change(url, body, done) {
    var p = queue.then(function () {
      if (body.ops) { body.base = plan.version; }
      return request("POST", url, body);
    }).then(function (j) {
      show(j.plan);
      say(done(j) + "（规划新增设施图层第 " + j.version.version + " 版）", true);
      loadHistory();
      return true;
    }, function (e) {
      say(e.message, false);
      return false;
    });
    queue = p;
    return p;
  }

  // --- the sites: markers and table ---------------------------------------------------------
  function text(tag, value, cls) {
    var el = document.createElement(tag);
    if (cls) { el.className = cls; }
    el.textContent = value === null || value === undefined || value === "" ? "—" : String(value);
    return el;
  }

  function tip(site) {
    var div = document.createElement("div");
    div.appendChild(text("strong", site.name));
    var rows = [["层级/类型", site.level_label], ["床位数", site.beds], ["编号", site.site_id]];
    rows.forEach(function (r) {
      var line = document.createElement("div");
      line.textContent = r[0] + "：" + (r[1] === null || r[1] === undefined || r[1] === "" ? "—" : r[1]);
      div.appendChild(line);
    });
    return div;
  }

  function icon(site) {
    var div = document.createElement("div");
    div.textContent = String(site.site_id);
    return L.divIcon({html: div, className: "gs-plan-site" + (selected === site.site_id ? " gs-selected" : ""),
                      iconSize: [26, 26], iconAnchor: [13, 13]});
  }

  function drawSites() {
    group.clearLayers();
    markers = {};
    plan.sites.forEach(function (site) {
      var p = drawn(site.lon, site.lat);
      var m = L.marker([p[1], p[0]], {icon: icon(site), draggable: cfg.editable,
                                       keyboard: false, autoPan: true});
      m.siteId = site.site_id;
      m.bindTooltip(function () { return tip(site); }, {direction: "top", offset: [0, -12]});
      if (cfg.editable) {
        m.on("dragend", function () { move(site, m); });
        m.on("click", function () { edit(site); });
      }
      m.addTo(group);
      markers[site.site_id] = m;
    });
  }

  function button(cell, label, cls, action) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = cls;
    b.textContent = label;
    b.addEventListener("click", action);
    cell.appendChild(b);
  }

  function renderTable() {
    var body = document.querySelector("#sites-table tbody");
    body.textContent = "";
    if (!plan.sites.length) {
      var tr = document.createElement("tr");
      tr.className = "gs-empty";
      var td = document.createElement("td");
      td.colSpan = cfg.editable ? 5 : 4;
      td.textContent = "方案中还没有站点";
      tr.appendChild(td);
      body.appendChild(tr);
      return;
    }
    plan.sites.forEach(function (site) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-site-id", String(site.site_id));
      if (selected === site.site_id) { tr.className = "gs-selected"; }
      tr.appendChild(text("td", site.site_id));
      tr.appendChild(text("td", site.name));
      tr.appendChild(text("td", site.level_label));
      tr.appendChild(text("td", site.beds));
      if (cfg.editable) {
        var cell = document.createElement("td");
        button(cell, "编辑", "gs-edit", function () { edit(site); });
        button(cell, "删除", "gs-remove", function () { remove(site); });
        tr.appendChild(cell);
      }
      tr.addEventListener("dblclick", function () {
        var m = markers[site.site_id];
        if (m) { map.panTo(m.getLatLng()); }
      });
      body.appendChild(tr);
    });
  }

  function show(newPlan) {
    plan = newPlan;
    if (selected !== null && !plan.sites.some(function (s) { return s.site_id === selected; })) {
      closeEdit();
    }
    drawSites();
    renderTable();
    document.getElementById("plan-site-count").textContent = String(plan.site_count);
    document.getElementById("plan-beds").textContent = String(plan.beds);
    document.getElementById("plan-version").textContent =
      plan.version ? "第 " + plan.version + " 版" : "（尚无）";
    document.getElementById("plan-updated").textContent =
      (plan.updated_by || "") + " " + (plan.updated_at || "").slice(0, 16).replace("T", " ");
  }

  // --- editing ------------------------------------------------------------------------
  function move(site, m) {
    var ll = m.getLatLng(), p = stored(ll.lng, ll.lat);
    change(cfg.urls.sites,
           {ops: [{op: "move", site_id: site.site_id, lon: round7(p[0]), lat: round7(p[1])}]},
           function () { return "已移动站点“" + site.name + "”"; })
      .then(function (ok) {
        if (!ok) {  // refused: the marker goes back to where the site is
          var q = drawn(site.lon, site.lat);
          m.setLatLng([q[1], q[0]]);
        }
      });
  }

  function edit(site) {
    selected = site.site_id;
    document.getElementById("edit-fields").hidden = false;
    document.getElementById("edit-id").textContent = "（编号 " + site.site_id + "）";
    document.getElementById("edit-name").value = site.name || "";
    document.getElementById("edit-level").value = site.level || "";
    document.getElementById("edit-beds").value = site.beds === null ? "" : String(site.beds);
    drawSites();
    renderTable();
  }

  function closeEdit() {
    selected = null;
    var f = document.getElementById("edit-fields");
    if (f) { f.hidden = true; }
  }

  function saveEdit() {
    var id = selected;
    if (id === null) { return; }
    var op = {op: "edit", site_id: id, name: document.getElementById("edit-name").value,
              level: document.getElementById("edit-level").value,
              beds: document.getElementById("edit-beds").value};
    change(cfg.urls.sites, {ops: [op]}, function () { return "已修改站点（编号 " + id + "）"; })
      .then(function (ok) { if (ok) { closeEdit(); drawSites(); renderTable(); } });
  }

  function remove(site) {
    if (!window.confirm("从方案中删除站点“" + site.name + "”？（可撤销）")) { return; }
    change(cfg.urls.sites, {ops: [{op: "remove", site_id: site.site_id}]},
           function () { return "已删除站点“" + site.name + "”"; });
  }

  function setAdding(on) {
    adding = on;
    var b = document.getElementById("add-mode");
    b.classList.toggle("gs-on", on);
    b.textContent = on ? "取消添加" : "添加站点";
    document.getElementById("add-hint").hidden = !on;
    L.DomUtil[on ? "addClass" : "removeClass"](map.getContainer(), "gs-adding");
  }

  function add(e) {
    if (!adding) { return; }
    setAdding(false);
    var p = stored(e.latlng.lng, e.latlng.lat);
    var name = document.getElementById("add-name").value;
    change(cfg.urls.sites, {ops: [{op: "add", lon: round7(p[0]), lat: round7(p[1]), name: name,
                                   level: document.getElementById("add-level").value,
                                   beds: document.getElementById("add-beds").value}]},
           function () { return "已添加站点" + (name ? "“" + name + "”" : ""); })
      .then(function (ok) { if (ok) { document.getElementById("add-name").value = ""; } });
  }

  // --- history, undo, restore ----------------------------------------------------------
  function renderHistory(rows) {
    var table = document.getElementById("history-table");
    if (!table) { return; }
    var body = table.querySelector("tbody");
    body.textContent = "";
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      tr.appendChild(text("td", (r.time || "").slice(0, 19).replace("T", " ")));
      tr.appendChild(text("td", r.user));
      tr.appendChild(text("td", r.action_label));
      tr.appendChild(text("td", r.result));
      if (cfg.editable) {
        var cell = document.createElement("td");
        if (r.version_after !== null && r.version_after !== undefined && r.version_after !== plan.version) {
          button(cell, "恢复到此版本", "gs-restore", function () { restore(r.version_after); });
        }
        tr.appendChild(cell);
      }
      body.appendChild(tr);
    });
  }

  function loadHistory() {
    if (!document.getElementById("history-table")) { return; }
    request("GET", cfg.urls.history).then(function (j) { renderHistory(j.rows); },
                                          function (e) { say(e.message, false); });
  }

  function restore(version) {
    change(cfg.urls.restore, {version: version},
           function () { return "已将站点恢复为第 " + version + " 版时的状态"; });
  }

  function saveStatus(ev) {
    ev.preventDefault();
    var body = {status: document.getElementById("status").value};
    if (!plan.read_only) {  // an approved plan only changes its status
      body.note = document.getElementById("note").value;
      body.target_year = document.getElementById("target-year").value;
    }
    request("POST", cfg.urls.plan, body).then(function () {
      window.location.assign(cfg.urls.page + "?saved=1");
    }, function (e) { say(e.message, false); });
  }

  // --- wiring ---------------------------------------------------------------------------
  drawSites();
  renderTable();
  window.geoservice.plan = {get: function () { return plan; }, markers: function () { return markers; }};
  var form = document.getElementById("status-form");
  if (form) { form.addEventListener("submit", saveStatus); }
  if (cfg.editable) {
    document.getElementById("add-mode").addEventListener("click", function () { setAdding(!adding); });
    document.getElementById("edit-save").addEventListener("click", saveEdit);
    document.getElementById("edit-cancel").addEventListener("click", function () {
      closeEdit(); drawSites(); renderTable();
    });
    document.getElementById("undo").addEventListener("click", function () {
      change(cfg.urls.undo, {}, function () { return "已撤销上一步"; });
    });
    Array.prototype.forEach.call(document.querySelectorAll("#history-table .gs-restore"), function (b) {
      b.addEventListener("click", function () { restore(Number(b.getAttribute("data-version"))); });
    });
    map.on("click", add);
  }
}());
