/* The tools on every map (maps/tools.py): search box (names, full pinyin, pinyin
 * initials), village/township names drawn from a zoom level on with collision culling,
 * measure distance and area, the pointer's coordinates (CGCS2000; GCJ-02 too on a GCJ-02
 * basemap), full screen, north arrow, the legend folded on narrow windows, and
 * window.geoservice.locate(key[, layer]) for the pages' "定位" links.
 *
 * Text from data arrives as safe text (HTML entities, maps/base.py safe_text); it is
 * decoded in a <textarea> and only ever put into the page as text nodes (textContent).
 */
(function () {
  "use strict";
  if (L.geoserviceTools) { return; }  // loaded once per page, however many maps it has

  // The app's search API (/api/search), next to the /assets this script is served from;
  // null when the script was not served by the app (then the search stays local).
  var SEARCH_URL = (function () {
    var src = document.currentScript && document.currentScript.src;
    var m = src && /^(.*)\/assets\/geoservice\/tools\.js(?:[?#].*)?$/.exec(src);
    return m ? m[1] + "/api/search" : null;
  }());
  var SEARCH_LIMIT = 12, SEARCH_DEBOUNCE_MS = 200, VIEW_WAIT_MS = 20000;

  var decoder = document.createElement("textarea");
  function decode(s) {
    decoder.innerHTML = String(s == null ? "" : s);
    return decoder.value;
  }
  function el(tag, cls, parent, text) {
    var e = L.DomUtil.create(tag, cls || "", parent);
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function fmt(n, digits) {
    return n.toLocaleString("zh-CN", {minimumFractionDigits: digits, maximumFractionDigits: digits});
  }

  // --- GCJ-02 <-> CGCS2000 (as layers/crs.py: coordTransform forward, iterated inverse) ---
  var A = 6378245.0, EE = 0.00669342162296594323, PI = Math.PI;
  function tlat(x, y) {
    var r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    r += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    r += (20.0 * Math.sin(y * PI) + 40.0 * Math.sin(y / 3.0 * PI)) * 2.0 / 3.0;
    r += (160.0 * Math.sin(y / 12.0 * PI) + 320 * Math.sin(y * PI / 30.0)) * 2.0 / 3.0;
    return r;
  }
  function tlng(x, y) {
    var r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    r += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    r += (20.0 * Math.sin(x * PI) + 40.0 * Math.sin(x / 3.0 * PI)) * 2.0 / 3.0;
    r += (150.0 * Math.sin(x / 12.0 * PI) + 300.0 * Math.sin(x / 30.0 * PI)) * 2.0 / 3.0;
    return r;
  }
  function wgsToGcj(lng, lat) {
    if (!(lng > 73.66 && lng < 135.05 && lat > 3.86 && lat < 53.55)) { return [lng, lat]; }
    var dlat = tlat(lng - 105.0, lat - 35.0), dlng = tlng(lng - 105.0, lat - 35.0);
    var rad = lat / 180.0 * PI, magic = Math.sin(rad);
    magic = 1 - EE * magic * magic;
    var sq = Math.sqrt(magic);
    dlat = (dlat * 180.0) / ((A * (1 - EE)) / (magic * sq) * PI);
    dlng = (dlng * 180.0) / (A / sq * Math.cos(rad) * PI);
    return [lng + dlng, lat + dlat];
  }
  // GCJ-02 -> CGCS2000: the library's estimate, then fixed-point iteration (millimetres).
  function gcjToWgs(lng, lat) {
    var f = wgsToGcj(lng, lat), x = 2 * lng - f[0], y = 2 * lat - f[1];
    for (var i = 0; i < 4; i++) {
      f = wgsToGcj(x, y);
      x -= f[0] - lng;
      y -= f[1] - lat;
    }
    return [x, y];
  }
  // the one implementation for every map script (viewport.js, province.js load after this)
  L.geoserviceCrs = {wgsToGcj: wgsToGcj, gcjToWgs: gcjToWgs};

  // A feature's popup/tooltip as a table of plain text (never HTML), shared by the layers
  // loaded by view (viewport.js) and in bulk (province.js): ``pairs`` are [field, label],
  // ``options.choices`` stored values -> labels, ``options.bools`` yes/no fields;
  // ``localeNumbers`` writes numbers with thousands separators.
  function popupText(options, field, value, localeNumbers) {
    if (value === null || value === undefined) { return ""; }
    if (options.choices[field] && Object.prototype.hasOwnProperty.call(options.choices[field], value)) {
      return String(options.choices[field][value]);
    }
    if (options.bools.indexOf(field) >= 0 && typeof value === "boolean") { return value ? "是" : "否"; }
    if (localeNumbers && typeof value === "number") { return value.toLocaleString(); }
    if (typeof value === "object") { return JSON.stringify(value); }
    return String(value);
  }
  function popupTable(options, pairs, props, localeNumbers) {
    var div = L.DomUtil.create("div"), table = L.DomUtil.create("table", "", div);
    pairs.forEach(function (p) {
      var row = L.DomUtil.create("tr", "", table);
      L.DomUtil.create("th", "", row).textContent = p[1];
      L.DomUtil.create("td", "", row).textContent = popupText(options, p[0], props[p[0]], localeNumbers);
    });
    return div;
  }
  L.geoservicePopup = {table: popupTable};

  // --- geodesy on the sphere ---------------------------------------------------------------
  var R = 6371008.8;  // mean Earth radius (m)
  function rad(d) { return d * PI / 180; }
  function haversine(a, b) {
    var dlat = rad(b.lat - a.lat), dlng = rad(b.lng - a.lng);
    var h = Math.sin(dlat / 2) * Math.sin(dlat / 2) +
            Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dlng / 2) * Math.sin(dlng / 2);
    return 2 * R * Math.asin(Math.min(1, Math.sqrt(h)));
  }
  function pathLength(pts) {
    var d = 0;
    for (var i = 1; i < pts.length; i++) { d += haversine(pts[i - 1], pts[i]); }
    return d;
  }
  // Area of a polygon on the sphere (m²), the formula Leaflet.draw's geodesicArea uses.
  function sphericalArea(pts) {
    var n = pts.length, area = 0;
    if (n < 3) { return 0; }
    for (var i = 0; i < n; i++) {
      var p1 = pts[i], p2 = pts[(i + 1) % n];
      area += rad(p2.lng - p1.lng) * (2 + Math.sin(rad(p1.lat)) + Math.sin(rad(p2.lat)));
    }
    return Math.abs(area * R * R / 2);
  }
  function lengthText(m) {
    return m < 1000 ? fmt(m, 1) + " 米" : fmt(m / 1000, 3) + " 千米";
  }
  function areaText(m2) {
    var main = m2 < 1e6 ? fmt(m2, 0) + " 平方米" : fmt(m2 / 1e6, 3) + " 平方千米";
    return main + "（" + fmt(m2 / 1e4, 2) + " 公顷）";
  }

  // The box of what an icon shows: its text (a Range: a label centred in a wider icon box
  // counts with its text only), or the icon itself when it has no text.
  var range = document.createRange ? document.createRange() : null;
  function textRect(icon) {
    var node = icon;
    while (node.firstChild) { node = node.firstChild; }
    if (range && node.nodeType === 3 && node.textContent) {
      range.selectNodeContents(node);
      var t = range.getBoundingClientRect();
      if (t.width > 0) { return t; }
    }
    return icon.getBoundingClientRect();
  }

  function rectsOverlap(a, b) {
    return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  }

  // Hide (class gs-culled) the markers of `markers` whose icons overlap one already kept,
  // in the given order (first ones win); with `group`, take them off that group instead
  // (the page's own rules put them back, e.g. the boundary lengths on zoomend).
  function declutter(markers, group) {
    var kept = [];
    markers.forEach(function (mk) {
      var icon = mk._icon;
      if (!icon) { return; }
      L.DomUtil.removeClass(icon, "gs-culled");
      var r = textRect(icon);
      if (r.width === 0 && r.height === 0) { return; }
      var hit = kept.some(function (k) { return rectsOverlap(k, r); });
      if (!hit) { kept.push(r); }
      else if (group) { group.removeLayer(mk); }
      else { L.DomUtil.addClass(icon, "gs-culled"); }
    });
  }

  function Tools(map, layers, options) {
    this.map = map;
    this.layers = layers || {};
    this.options = options || {};
    this.shifted = !!this.options.shifted;
    this.index = (this.options.index || []).map(function (e) {
      return {id: decode(e.id), name: decode(e.n), code: decode(e.c), kind: decode(e.k),
              layer: decode(e.l), i: e.i, lat: e.y, lng: e.x, full: e.p || "",
              initials: e.a || "", zoom: e.z || 0, raw: e};
    });
    this.labelMarkers = {};
    this.measure = {mode: null, points: [], layer: L.layerGroup()};
    this._initPane();
    this._initSearch();
    this._initMeasure();
    this._initCoords();
    this._initNorth();
    this._initNames();
    this._initDeclutter();
    this._initLegend();
  }

  Tools.prototype._initPane = function () {
    if (!this.map.getPane("gsNames")) {
      var pane = this.map.createPane("gsNames");
      pane.style.zIndex = 590;
      pane.style.pointerEvents = "none";
    }
  };

  // --- search ------------------------------------------------------------------------------
  function scoreAll(entries, text, limit) {
    var q = String(text || "").trim().toLowerCase();
    if (!q) { return []; }
    var ascii = /^[a-z0-9]+$/.test(q);
    var scored = [];
    entries.forEach(function (e) {
      var name = e.name.toLowerCase(), s = -1;
      if (name === q || e.code === q) { s = 0; }
      else if (name.indexOf(q) === 0) { s = 1; }
      else if (name.indexOf(q) >= 0) { s = 2; }
      else if (ascii && e.initials.indexOf(q) === 0) { s = 3; }
      else if (ascii && e.full.indexOf(q) === 0) { s = 4; }
      else if (ascii && e.initials.indexOf(q) > 0) { s = 5; }
      else if (ascii && e.full.indexOf(q) > 0) { s = 6; }
      else if (e.code && e.code.indexOf(q) === 0) { s = 7; }
      if (s >= 0) { scored.push([s, e.name.length, e]); }
    });
    scored.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    return scored.slice(0, limit || SEARCH_LIMIT).map(function (x) { return x[2]; });
  }

  Tools.prototype.search = function (text, limit) {
    return scoreAll(this.index, text, limit);
  };

  // The map's layer key for a kind the server names: the key of that name, else the first
  // registry key drawing that kind (options.layerKinds), else none.
  Tools.prototype._layerKeyOf = function (kind) {
    var kinds = this.options.layerKinds || {}, layers = this.layers;
    if (layers[kind] && (!kinds[kind] || decode(kinds[kind]) === kind)) { return kind; }
    for (var k in kinds) {
      if (Object.prototype.hasOwnProperty.call(kinds, k) && decode(kinds[k]) === kind &&
          layers[decode(k)]) { return decode(k); }
    }
    return null;
  };

  // A server result (/api/search, plain JSON text) as an entry of the search list.
  Tools.prototype._serverEntry = function (r) {
    var lng = Number(r.lon), lat = Number(r.lat);
    if (this.shifted) { var g = wgsToGcj(lng, lat); lng = g[0]; lat = g[1]; }
    var key = this._layerKeyOf(String(r.kind));
    return {id: "srv:" + r.kind + ":" + r.index, name: String(r.name == null ? "" : r.name),
            code: r.code == null ? "" : String(r.code), kind: String(r.kind_label || r.kind),
            layer: key || "", srvKind: String(r.kind), i: r.index, lat: lat, lng: lng,
            full: String(r.pinyin || ""), initials: String(r.initials || ""), zoom: 0,
            server: true};
  };

  // Whether a server entry is one of the map's own entries (same layer and name, same code
  // or about the same place: under ~50 m).
  function sameEntry(a, b) {
    if (a.name !== b.name) { return false; }
    if (a.code && b.code) { return a.code === b.code; }
    return Math.abs(a.lat - b.lat) < 5e-4 && Math.abs(a.lng - b.lng) < 5e-4;
  }

  // The local results and the server's (not already among the map's entries), ranked together.
  Tools.prototype.merge = function (text, local, results) {
    var tools = this, extra = [];
    (results || []).forEach(function (r) {
      var e = tools._serverEntry(r);
      var dup = tools.index.some(function (x) { return sameEntry(x, e); }) ||
                extra.some(function (x) { return sameEntry(x, e); });
      if (!dup) { extra.push(e); }
    });
    return scoreAll(local.concat(extra), text, SEARCH_LIMIT);
  };

  // Ask the server; callback(results) with the latest query's answer only.
  Tools.prototype.searchServer = function (text, callback) {
    var q = String(text || "").trim(), seq = (this._searchSeq = (this._searchSeq || 0) + 1);
    var tools = this;
    if (!SEARCH_URL || !q || !window.fetch) { return false; }
    if (this._searchAbort) { this._searchAbort.abort(); }
    var controller = window.AbortController ? new AbortController() : null;
    this._searchAbort = controller;
    fetch(SEARCH_URL + "?q=" + encodeURIComponent(q) + "&limit=" + SEARCH_LIMIT,
          {credentials: "same-origin", headers: {Accept: "application/json"},
           signal: controller ? controller.signal : undefined})
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (body) {
        if (seq !== tools._searchSeq) { return; }
        tools._searchAbort = null;
        callback(body.results || []);
      })
      .catch(function () { /* the local results stay */ });
    return true;
  };

  Tools.prototype._initSearch = function () {
    var tools = this;
    var Search = L.Control.extend({
      options: {position: "topleft"},
      onAdd: function () {
        var box = el("div", "gs-search leaflet-bar");
        var input = el("input", "gs-search-input", box);
        input.type = "search";
        input.placeholder = "搜索村、乡镇、设施或拼音首字母";
        input.title = "输入名称、全拼或拼音首字母，如 hy 查找汉阳";
        input.setAttribute("aria-label", "搜索地名");
        var list = el("ul", "gs-search-results", box);
        var current = [], active = -1;
        function render(typed) {
          list.textContent = "";
          current.forEach(function (e, i) {
            var li = el("li", (i === active ? "gs-active" : "") + (e.server ? " gs-server" : ""), list);
            el("span", "gs-search-name", li, e.name);
            el("span", "gs-search-kind", li, e.kind);
            li.addEventListener("mousedown", function (ev) { ev.preventDefault(); });
            li.addEventListener("click", function () { choose(e); });
          });
          if (typed && input.value.trim() && !current.length) {
            el("li", "gs-search-none", list, "没有找到“" + input.value.trim() + "”");
          }
          list.style.display = list.firstChild ? "block" : "none";
        }
        var timer = null;
        function choose(e) {
          input.value = e.name;
          current = [];
          active = -1;
          if (timer) { clearTimeout(timer); timer = null; }
          tools._searchSeq = (tools._searchSeq || 0) + 1;  // a late answer is not shown
          render();
          if (e.server) { tools.goServer(e); } else { tools.go(e); }
        }
        input.addEventListener("input", function () {
          var text = input.value, local = tools.search(text);
          current = local;
          active = current.length ? 0 : -1;
          render(true);
          if (timer) { clearTimeout(timer); }
          tools._searchSeq = (tools._searchSeq || 0) + 1;
          if (!text.trim() || !SEARCH_URL) { return; }
          timer = setTimeout(function () {
            timer = null;
            tools.searchServer(text, function (results) {
              if (input.value !== text) { return; }
              var chosen = current[active];
              current = tools.merge(text, local, results);
              active = current.length ? Math.max(0, current.indexOf(chosen)) : -1;
              render(true);
            });
          }, SEARCH_DEBOUNCE_MS);
        });
        input.addEventListener("keydown", function (ev) {
          if (ev.key === "ArrowDown" && current.length) {
            active = (active + 1) % current.length; render(); ev.preventDefault();
          } else if (ev.key === "ArrowUp" && current.length) {
            active = (active - 1 + current.length) % current.length; render(); ev.preventDefault();
          } else if (ev.key === "Enter") {
            if (!current.length) { current = tools.search(input.value); active = 0; }
            if (current.length) { choose(current[Math.max(active, 0)]); }
            ev.preventDefault();
          } else if (ev.key === "Escape") {
            input.value = ""; current = []; render();
          }
        });
        input.addEventListener("blur", function () {
          setTimeout(function () { current = []; render(); }, 200);
        });
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        render();
        tools.searchInput = input;
        return box;
      }
    });
    new Search().addTo(this.map);
  };

  Tools.prototype._featureLayer = function (e) {
    var group = this.layers[e.layer];
    if (!group || !group.getLayers) { return null; }
    var all = group.getLayers(), cand = all[e.i];
    function same(l) {
      var p = l && l.feature && l.feature.properties;
      return p ? decode(p.name) === e.name && (!e.code || decode(p.code) === e.code) : false;
    }
    if (cand && (!cand.feature || same(cand))) { return cand; }
    for (var k = 0; k < all.length; k++) { if (same(all[k])) { return all[k]; } }
    return cand || null;
  };

  // Open the popup of a feature (or its tooltip when it has none). A GeoJSON layer binds
  // them to the whole group: the group's popup is opened with the feature as its source.
  function openPopupOf(target, group, latlng) {
    var kinds = [["getPopup", "openPopup"], ["getTooltip", "openTooltip"]];
    for (var k = 0; k < kinds.length; k++) {
      var get = kinds[k][0], open = kinds[k][1];
      if (target[get] && target[get]()) { target[open](latlng); return true; }
      if (group && group !== target && group[get] && group[get]()) {
        group[get]()._source = target;
        group[open](latlng);
        return true;
      }
    }
    return false;
  }

  // Pan/zoom to the entry and open its popup (or its tooltip when it has none).
  Tools.prototype.go = function (e) {
    var map = this.map, group = this.layers[e.layer];
    if (group && !map.hasLayer(group)) { map.addLayer(group); }
    var target = this._featureLayer(e), latlng = L.latLng(e.lat, e.lng), zoom = 15;
    if (target && target.getBounds) {
      zoom = Math.max(Math.min(map.getBoundsZoom(target.getBounds().pad(0.3)), 16), 13);
    }
    map.setView(latlng, Math.max(zoom, Math.min(map.getZoom(), 17)), {animate: false});
    if (target) { openPopupOf(target, group, latlng); }
    this.selected = e;
    map.fire("gs:located", {entry: e});
    return true;
  };

  // A leaf layer of `group` showing the server entry `e`: same name (and code) when it
  // carries its feature, else at the same position (a point of a layer loaded by view).
  function findDrawn(group, e) {
    var found = null;
    function near(ll) { return Math.abs(ll.lat - e.lat) < 1e-6 && Math.abs(ll.lng - e.lng) < 1e-6; }
    function visit(l) {
      if (found) { return; }
      var p = l.feature && l.feature.properties;
      if (p && !l.getLayers) {
        // inline layers carry safe text, layers loaded by view plain text
        var name = p.name === e.name ? p.name : decode(p.name);
        var code = p.code == null ? "" : (String(p.code) === e.code ? e.code : decode(p.code));
        if (name === e.name && (!e.code || code === e.code) &&
            (!l.getLatLng || near(l.getLatLng()))) { found = l; }
        return;
      }
      if (l.getLayers) { l.getLayers().forEach(visit); return; }
      if (l.getLatLng && (l.getPopup && l.getPopup()) && near(l.getLatLng())) { found = l; }
    }
    if (group && group.getLayers) { group.getLayers().forEach(visit); }
    return found;
  }

  // The temporary marker of a found place whose feature the map does not draw.
  Tools.prototype._mark = function (e) {
    if (!this.markLayer) { this.markLayer = L.layerGroup().addTo(this.map); }
    this.markLayer.clearLayers();
    var span = document.createElement("span");
    span.className = "gs-search-mark";
    span.textContent = e.name;
    span.style.cssText = "display:inline-block;margin:10px 0 0 10px;padding:1px 5px;" +
      "background:#fff;border:1px solid #d7301f;border-radius:3px;white-space:nowrap;font-size:13px";
    var mk = L.marker([e.lat, e.lng], {icon: L.divIcon({className: "gs-search-mark-icon",
                                                       html: span, iconSize: null}),
                                       keyboard: false, interactive: false});
    L.circleMarker([e.lat, e.lng], {radius: 7, color: "#d7301f", weight: 3, fill: false,
                                    interactive: false}).addTo(this.markLayer);
    mk.addTo(this.markLayer);
    return mk;
  };

  // Pan/zoom to a server result; open its popup once its layer has drawn it (a layer
  // loaded by view: after the view is loaded), else mark the place with its name.
  Tools.prototype.goServer = function (e) {
    var map = this.map, tools = this, latlng = L.latLng(e.lat, e.lng);
    var local = null;
    this.index.some(function (x) { if (sameEntry(x, e)) { local = x; } return !!local; });
    if (local) { return this.go(local); }
    var group = e.layer ? this.layers[e.layer] : null;
    var seq = (this._goSeq = (this._goSeq || 0) + 1);
    if (this.markLayer) { this.markLayer.clearLayers(); }
    if (group && !map.hasLayer(group)) { map.addLayer(group); }
    var byView = !!(group && group.options && group.options.url && "state" in group);
    var zoom = Math.max(15, Math.min(map.getZoom(), 17));
    if (byView) { zoom = Math.max(zoom, group.options.minZoom || 0); }
    this.selected = e;
    function finish() {
      if (seq !== tools._goSeq) { return; }
      var target = group ? findDrawn(group, e) : null;
      if (!(target && openPopupOf(target, group, latlng))) { tools._mark(e); }
      map.fire("gs:located", {entry: e});
    }
    map.setView(latlng, zoom, {animate: false});
    if (byView && group.state === "loading") {
      var timer = null;
      var done = function (ev) {
        if (ev && ev.state === "loading") { return; }
        group.off("viewstate", done);
        if (timer) { clearTimeout(timer); }
        finish();
      };
      group.on("viewstate", done);
      timer = setTimeout(done, VIEW_WAIT_MS);
    } else {
      finish();
    }
    return true;
  };

  // key: an entry id ("villages:3"), a code or a name; layer: restrict to that layer.
  Tools.prototype.locate = function (key, layer) {
    var k = String(key == null ? "" : key).trim();
    if (!k) { return false; }
    var pool = this.index.filter(function (e) { return !layer || e.layer === layer; });
    var tests = [function (e) { return e.id === k; }, function (e) { return e.code && e.code === k; },
                 function (e) { return e.name === k; }];
    for (var t = 0; t < tests.length; t++) {
      for (var i = 0; i < pool.length; i++) {
        if (tests[t](pool[i])) { return this.go(pool[i]); }
      }
    }
    return false;
  };

  // --- measure -----------------------------------------------------------------------------
  Tools.prototype._initMeasure = function () {
    var tools = this, map = this.map;
    var Bar = L.Control.extend({
      options: {position: "topleft"},
      onAdd: function () {
        var bar = el("div", "gs-toolbar leaflet-bar");
        function button(cls, text, title, fn) {
          var a = el("a", cls, bar, text);
          a.href = "#";
          a.title = title;
          a.setAttribute("role", "button");
          L.DomEvent.on(a, "click", function (ev) { L.DomEvent.preventDefault(ev); fn(a); });
          return a;
        }
        tools.lineButton = button("gs-tool-line", "测距", "测量距离：在地图上依次单击，双击或再点此按钮结束", function () {
          tools.toggleMeasure("line");
        });
        tools.areaButton = button("gs-tool-area", "测面", "测量面积：依次单击各顶点，双击或再点此按钮结束", function () {
          tools.toggleMeasure("area");
        });
        var fsOk = document.fullscreenEnabled || document.webkitFullscreenEnabled;
        tools.fullButton = button("gs-tool-full", "全屏", "全屏显示地图（Esc 退出）", function () {
          tools.toggleFullscreen();
        });
        if (!fsOk) { tools.fullButton.style.display = "none"; }
        var result = el("div", "gs-measure-result", bar);
        result.style.display = "none";
        tools.measureResult = result;
        L.DomEvent.disableClickPropagation(bar);
        return bar;
      }
    });
    new Bar().addTo(map);
    this.measure.layer.addTo(map);
    map.on("click", function (ev) {
      if (!tools.measure.mode || tools.measure.done) { return; }
      tools.measure.points.push(ev.latlng);
      tools._drawMeasure();
    });
    map.on("dblclick", function () {
      if (tools.measure.mode && !tools.measure.done) { tools.finishMeasure(); }
    });
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" && tools.measure.mode) { tools.stopMeasure(); }
    });
    document.addEventListener("fullscreenchange", function () {
      var full = document.fullscreenElement === map.getContainer();
      if (tools.fullButton) { tools.fullButton.textContent = full ? "退出全屏" : "全屏"; }
      map.invalidateSize();
    });
  };

  Tools.prototype.toggleMeasure = function (mode) {
    if (this.measure.mode === mode && !this.measure.done) { this.finishMeasure(); return; }
    this.stopMeasure();
    this.measure.mode = mode;
    this.measure.done = false;
    L.DomUtil.addClass(this.map.getContainer(), "gs-measuring");
    L.DomUtil.addClass(mode === "line" ? this.lineButton : this.areaButton, "gs-on");
    this.map.doubleClickZoom.disable();
    this.measureResult.style.display = "block";
    this.measureResult.textContent = mode === "line" ? "单击地图开始测距" : "单击地图开始测面";
  };

  Tools.prototype.finishMeasure = function () {
    this.measure.done = true;
    L.DomUtil.removeClass(this.map.getContainer(), "gs-measuring");
    L.DomUtil.removeClass(this.lineButton, "gs-on");
    L.DomUtil.removeClass(this.areaButton, "gs-on");
    var map = this.map;
    setTimeout(function () { map.doubleClickZoom.enable(); }, 300);
  };

  Tools.prototype.stopMeasure = function () {
    this.finishMeasure();
    this.measure.mode = null;
    this.measure.points = [];
    this.measure.layer.clearLayers();
    this.measureResult.style.display = "none";
    this.measureResult.textContent = "";
  };

  // Distances and areas in CGCS2000: on a GCJ-02 map the clicked points are converted back.
  Tools.prototype._true = function (pts) {
    if (!this.shifted) { return pts; }
    return pts.map(function (p) { var w = gcjToWgs(p.lng, p.lat); return L.latLng(w[1], w[0]); });
  };

  Tools.prototype.measured = function () {
    var pts = this._true(this.measure.points);
    return {length: pathLength(pts), area: sphericalArea(pts), points: pts.length};
  };

  Tools.prototype._drawMeasure = function () {
    var m = this.measure, pts = m.points, g = m.layer, style = {color: "#e6550d", weight: 3,
      dashArray: "6 4", interactive: false};
    g.clearLayers();
    if (m.mode === "area" && pts.length >= 3) {
      L.polygon(pts, L.extend({fillOpacity: 0.15}, style)).addTo(g);
    } else if (pts.length >= 2) {
      L.polyline(pts, style).addTo(g);
    }
    pts.forEach(function (p) {
      L.circleMarker(p, {radius: 4, color: "#e6550d", weight: 2, fillColor: "#fff",
                         fillOpacity: 1, interactive: false}).addTo(g);
    });
    var r = this.measured(), text;
    if (m.mode === "line") {
      text = "距离：" + lengthText(r.length);
    } else {
      text = pts.length < 3 ? "至少单击三个点" : "面积：" + areaText(r.area) + "；周长：" +
        lengthText(r.length + (pts.length > 2 ? haversine(this._true([pts[pts.length - 1]])[0],
                                                            this._true([pts[0]])[0]) : 0));
    }
    this.measureResult.textContent = text;
    if (pts.length) {
      var icon = document.createElement("span");
      icon.className = "gs-measure-label";
      icon.textContent = m.mode === "line" ? lengthText(r.length) : (pts.length < 3 ? "" : areaText(r.area));
      if (icon.textContent) {
        L.marker(pts[pts.length - 1], {icon: L.divIcon({className: "gs-measure-icon", html: icon,
                                                        iconSize: null}),
                                       interactive: false, keyboard: false}).addTo(g);
      }
    }
  };

  Tools.prototype.toggleFullscreen = function () {
    var c = this.map.getContainer();
    var fsEl = document.fullscreenElement || document.webkitFullscreenElement;
    if (fsEl) {
      (document.exitFullscreen || document.webkitExitFullscreen).call(document);
    } else {
      var req = c.requestFullscreen || c.webkitRequestFullscreen;
      if (req) {
        var p = req.call(c);
        if (p && p.catch) { p.catch(function () {}); }
      }
    }
  };

  // --- coordinates -------------------------------------------------------------------------
  Tools.prototype._initCoords = function () {
    var tools = this;
    var Coords = L.Control.extend({
      options: {position: "bottomright"},
      onAdd: function () {
        var box = el("div", "gs-coords");
        tools.coordsLines = [el("div", "gs-coords-line", box, "移动鼠标查看坐标")];
        if (tools.shifted) { tools.coordsLines.push(el("div", "gs-coords-line", box, "")); }
        return box;
      }
    });
    new Coords().addTo(this.map);
    this.map.on("mousemove", function (ev) { tools.showCoords(ev.latlng); });
  };

  Tools.prototype.showCoords = function (ll) {
    function text(label, lng, lat) {
      return label + " 经度 " + lng.toFixed(6) + "，纬度 " + lat.toFixed(6);
    }
    var lng = L.Util.wrapNum(ll.lng, [-180, 180], true), lat = ll.lat;
    if (this.shifted) {
      var w = gcjToWgs(lng, lat);
      this.coordsLines[0].textContent = text("CGCS2000", w[0], w[1]);
      this.coordsLines[1].textContent = text("GCJ-02", lng, lat);
    } else {
      this.coordsLines[0].textContent = text("CGCS2000", lng, lat);
    }
  };

  // --- north arrow -------------------------------------------------------------------------
  Tools.prototype._initNorth = function () {
    var North = L.Control.extend({
      options: {position: "topleft"},
      onAdd: function () {
        var box = el("div", "gs-north");
        box.title = "指北针：地图上方为正北";
        el("div", "gs-north-arrow", box, "▲");
        el("div", "gs-north-text", box, "北");
        return box;
      }
    });
    new North().addTo(this.map);
  };

  // --- names by zoom -----------------------------------------------------------------------
  Tools.prototype._initNames = function () {
    var tools = this, map = this.map;
    // townships first: they win a collision (larger zoom thresholds count as less important)
    this.labelled = this.index.filter(function (e) { return e.zoom > 0; })
      .sort(function (a, b) { return a.zoom - b.zoom; });
    this.namesLayer = L.layerGroup().addTo(map);
    if (!this.labelled.length) { return; }
    var pending = false;
    function later() {
      if (pending) { return; }
      pending = true;
      L.Util.requestAnimFrame(function () { pending = false; tools.updateNames(); });
    }
    map.on("zoomend moveend overlayadd overlayremove resize", later);
    this.updateNames();
  };

  Tools.prototype._labelMarker = function (e) {
    var mk = this.labelMarkers[e.id];
    if (!mk) {
      var span = document.createElement("span");
      span.className = "gs-name gs-name-" + (e.zoom <= 11 ? "major" : "minor");
      span.textContent = e.name;
      mk = L.marker([e.lat, e.lng], {
        icon: L.divIcon({className: "gs-name-icon", html: span, iconSize: null}),
        interactive: false, keyboard: false, pane: "gsNames"});
      mk.gsEntry = e;
      this.labelMarkers[e.id] = mk;
    }
    return mk;
  };

  Tools.prototype.updateNames = function () {
    var map = this.map, zoom = map.getZoom(), view = map.getBounds().pad(0.1);
    var layers = this.layers, group = this.namesLayer, tools = this, shown = [];
    this.labelled.forEach(function (e) {
      var layer = layers[e.layer];
      var want = zoom >= e.zoom && (!layer || map.hasLayer(layer)) &&
                 view.contains([e.lat, e.lng]);
      var mk = tools.labelMarkers[e.id];
      if (want) {
        mk = tools._labelMarker(e);
        if (!group.hasLayer(mk)) { group.addLayer(mk); }
        shown.push(mk);
      } else if (mk && group.hasLayer(mk)) {
        group.removeLayer(mk);
      }
    });
    declutter(shown);
  };

  // The visible name labels (for tests and the page): [{name, kind, rect}]
  Tools.prototype.visibleNames = function () {
    var out = [];
    this.namesLayer.eachLayer(function (mk) {
      var icon = mk._icon;
      if (!icon || L.DomUtil.hasClass(icon, "gs-culled")) { return; }
      var r = textRect(icon);
      out.push({name: mk.gsEntry.name, kind: mk.gsEntry.kind,
                rect: {left: r.left, top: r.top, right: r.right, bottom: r.bottom}});
    });
    return out;
  };

  // --- other labels that must not pile up (e.g. boundary lengths) ------------------------
  Tools.prototype._initDeclutter = function () {
    var tools = this, keys = this.options.declutter || [];
    if (!keys.length) { return; }
    this.declutter = function () {
      keys.forEach(function (k) {
        var g = tools.layers[decode(k)];
        if (g && g.getLayers && tools.map.hasLayer(g)) { declutter(g.getLayers(), g); }
      });
    };
    // after the page's own handlers (moveend follows zoomend) and, at first, after the
    // page's own scripts (which may read the group, as boundaries.html does)
    this.map.on("moveend overlayadd", function () { L.Util.requestAnimFrame(tools.declutter); });
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", function () {
        L.Util.requestAnimFrame(tools.declutter);
      });
    } else {
      L.Util.requestAnimFrame(tools.declutter);
    }
  };

  // --- legend ------------------------------------------------------------------------------
  Tools.prototype._initLegend = function () {
    var below = this.options.legendCollapseBelow || 0;
    if (window.innerWidth >= below) { return; }
    Array.prototype.forEach.call(document.querySelectorAll(".gs-legend details"), function (d) {
      if (!d.hasAttribute("data-gs-folded")) {
        d.setAttribute("data-gs-folded", "1");
        d.open = false;
      }
    });
  };

  L.geoserviceTools = function (map, config) {
    var tools = new Tools(map, config.layers, config.options);
    map.gsTools = tools;
    var gs = window.geoservice = window.geoservice || {};
    gs.tools = tools;
    gs.locate = function (key, layer) {
      var t = (gs.map && gs.map.gsTools) || tools;
      return t.locate(key, layer);
    };
    gs.declutter = declutter;
    gs.geo = {haversine: haversine, sphericalArea: sphericalArea, gcjToWgs: gcjToWgs,
              wgsToGcj: wgsToGcj};
    return tools;
  };

  // "定位" links: any element with data-locate (and optionally data-locate-layer).
  document.addEventListener("click", function (ev) {
    var t = ev.target && ev.target.closest ? ev.target.closest("[data-locate]") : null;
    if (!t || !window.geoservice || !window.geoservice.locate) { return; }
    ev.preventDefault();
    var ok = window.geoservice.locate(t.getAttribute("data-locate"),
                                      t.getAttribute("data-locate-layer") || undefined);
    if (ok) {
      var c = window.geoservice.map && window.geoservice.map.getContainer();
      if (c && c.scrollIntoView && c.getBoundingClientRect().top < 0) { c.scrollIntoView(); }
    } else {
      t.title = "地图上没有这一项";
    }
  });
})();
