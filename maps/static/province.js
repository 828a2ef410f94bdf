/* Heavy polygon layers, every feature drawn at every zoom (maps/bulk.py).
 *
 * The layer asks the geometry endpoint (/api/layers/<kind>/geometry) for every feature,
 * simplified to about one pixel at the map's zoom, and draws them all on one canvas. When
 * the map is zoomed in past that zoom bucket it asks for the finer geometry of the view's
 * features and swaps it in (the same polygon objects: popups, search and order stay).
 * Analysis values (options.join) are joined by code. Text from data is only ever put
 * into the page as text nodes (textContent), never as HTML; the joined table's strings
 * arrive as HTML entities (maps.base.safe_text) and are decoded in a <textarea> first.
 *
 * State for pages and tests: layer.state (idle | loading | ready | error), layer.drawn
 * (features drawn), window.geoservice.bulk[kind] (the layer), window.geoservice.readyAt
 * (performance.now() when the last bulk layer of the page finished drawing).
 */
(function () {
  "use strict";

  var decoder = document.createElement("textarea");
  function decode(s) {
    if (typeof s !== "string" || s.indexOf("&") < 0) { return s; }
    decoder.innerHTML = s;
    return decoder.value;
  }

  // CGCS2000/WGS84 -> GCJ-02: the one implementation is tools.js's (loaded on every map first)
  function wgsToGcj(lng, lat) { return L.geoserviceCrs.wgsToGcj(lng, lat); }

  function thousands(n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  // One feature's polygons ([[ring, hole …] …], rings delta-encoded) as Leaflet latlngs.
  function decodeGeometry(polys, origin, scale, shifted) {
    var out = [];
    for (var p = 0; p < polys.length; p++) {
      var rings = [];
      for (var r = 0; r < polys[p].length; r++) {
        var flat = polys[p][r], x = 0, y = 0, ring = new Array(flat.length / 2);
        for (var k = 0; k < flat.length; k += 2) {
          x += flat[k]; y += flat[k + 1];
          var lng = origin[0] + x * scale, lat = origin[1] + y * scale;
          if (shifted) { var g = wgsToGcj(lng, lat); lng = g[0]; lat = g[1]; }
          ring[k / 2] = L.latLng(lat, lng);
        }
        rings.push(ring);
      }
      out.push(rings);
    }
    return out.length === 1 ? out[0] : out;
  }

  function pagePending(delta) {
    var gs = window.geoservice = window.geoservice || {};
    gs.bulkPending = (gs.bulkPending || 0) + delta;
    if (gs.bulkPending === 0 && delta < 0) {
      gs.readyAt = window.performance ? performance.now() : Date.now();
    }
  }

  // Asking the geometry endpoints (shared with lines.js): zoom bucket, URL, JSON fetch.
  var FetchMixin = {
    _bucketFor: function (zoom) {
      var b = this.options.buckets;
      for (var i = 0; i < b.length; i++) { if (zoom <= b[i]) { return b[i]; } }
      return b[b.length - 1];
    },

    _url: function (params) {
      var u = this.options.url;
      var q = Object.keys(params).map(function (k) {
        return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]);
      }).join("&");
      return u + (u.indexOf("?") >= 0 ? "&" : "?") + q;
    },

    _fetch: function (url) {
      this.requests += 1;
      return fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then(function (r) {
          if (!r.ok) { throw new Error("HTTP " + r.status); }
          return r.json();
        });
    },

    // Finer geometry for the features in view at zoom bucket ``bucket`` (the view padded
    // on a shifted map): ``apply(id, n, body)`` redraws feature ``id`` from the reply's
    // n-th item and says whether it did; the coarser geometry stays when a request fails.
    _refineView: function (bucket, params, apply) {
      var self = this, b = this._map.getBounds(), pad = this.options.shifted ? 0.01 : 0;
      var box = [Math.max(-180, b.getWest() - pad), Math.max(-90, b.getSouth() - pad),
                 Math.min(180, b.getEast() + pad), Math.min(90, b.getNorth() + pad)];
      var seq = ++this._seq;
      this._fetch(this._url(L.extend({zoom: bucket}, params, {
        bbox: box.map(function (v) { return v.toFixed(6); }).join(",")})))
        .then(function (body) {
          if (seq !== self._seq) { return; }
          for (var n = 0; n < body.ids.length; n++) {
            var id = body.ids[n];
            if ((self._level[id] || 0) >= body.zoom) { continue; }
            if (apply(id, n, body)) { self._level[id] = body.zoom; }
          }
          self.fire("bulkrefined", {zoom: body.zoom, features: body.ids.length});
        })
        .catch(function () { /* the coarser geometry stays drawn */ });
    }
  };
  L.geoserviceFetchMixin = FetchMixin;

  var Bulk = L.FeatureGroup.extend(L.extend({}, FetchMixin, {
    initialize: function (options) {
      L.FeatureGroup.prototype.initialize.call(this, []);
      L.setOptions(this, options);
      this.state = "idle";
      this.drawn = 0;          // features drawn
      this.requests = 0;       // geometry requests sent
      this.bucket = null;      // the zoom bucket every feature was first drawn at
      this._byId = {};         // feature id -> polygon
      this._level = {};        // feature id -> the bucket of its drawn geometry
      this._entries = {};      // feature id -> its entry in the map's search index
      this._seq = 0;
      this._renderer = L.canvas({padding: 0.2, tolerance: 2});
      this._joined = this._joinTable(options.join);
      var gs = window.geoservice = window.geoservice || {};
      gs.bulk = gs.bulk || {};
      gs.bulk[options.kind] = this;
      this._pending = false;
      var self = this, o = this.options;
      this.bindTooltip(function (layer) {
        return self._table(o.tooltip, (layer.feature || {}).properties || {});
      }, {sticky: true});
      this.bindPopup(function (layer) {
        return self._table(o.popup, (layer.feature || {}).properties || {});
      }, {maxWidth: 320});
      this.on("mouseover", function (e) { if (e.layer && e.layer.setStyle) { e.layer.setStyle({weight: 3}); } });
      this.on("mouseout", function (e) {
        if (e.layer && e.layer.setStyle) { e.layer.setStyle({weight: self._style(e.layer.feature.properties).weight || 1}); }
      });
    },

    _joinTable: function (join) {
      if (!join || !join.rows) { return null; }
      var byKey = {}, fields = join.fields || [];
      join.rows.forEach(function (row) {
        var props = {};
        for (var i = 0; i < fields.length; i++) { props[fields[i]] = decode(row[i + 1]); }
        byKey[decode(row[0])] = props;
      });
      return {key: join.key || "code", rows: byKey};
    },

    onAdd: function (map) {
      L.FeatureGroup.prototype.onAdd.call(this, map);
      map.on("moveend", this._refine, this);
      if (this.state === "idle" || this.state === "error") {
        if (!this._pending) { this._pending = true; pagePending(1); }
        this._load();
      }
      else { this._refine(); }
    },

    onRemove: function (map) {
      map.off("moveend", this._refine, this);
      L.FeatureGroup.prototype.onRemove.call(this, map);
    },


    _load: function () {
      var map = this._map, self = this, o = this.options;
      var bucket = this._bucketFor(Math.round(map.getZoom()));
      this.state = "loading";
      var params = {zoom: bucket, props: o.props.join(",")};
      var now = function () { return window.performance ? performance.now() : Date.now(); };
      this.timing = {requested: now()};
      this._fetch(this._url(params)).then(function (body) {
        self.timing.fetched = now();
        self._build(body);
        self.timing.built = now();
      }).catch(function (err) {
        self.state = "error";
        if (window.console) { console.error("geoservice bulk layer " + o.kind + ": " + err); }
        self._done();
        self.fire("bulkstate", {state: self.state});
      });
    },

    _done: function () {
      if (this._pending) { this._pending = false; pagePending(-1); }
    },

    _build: function (body) {
      var o = this.options, ids = body.ids, geoms = body.geometries, cols = body.properties || {};
      var names = Object.keys(cols), join = this._joined;
      this.bucket = body.zoom;
      var entries = [];
      for (var n = 0; n < ids.length; n++) {
        var props = {};
        for (var c = 0; c < names.length; c++) { props[names[c]] = cols[names[c]][n]; }
        if (join) {
          var extra = join.rows[props[join.key]];
          if (extra) { for (var f in extra) { props[f] = extra[f]; } }
        }
        var latlngs = decodeGeometry(geoms[n], body.origin, body.scale, o.shifted);
        var poly = L.polygon(latlngs, L.extend({}, this._style(props), {renderer: this._renderer}));
        poly.feature = {type: "Feature", properties: props};
        poly.gsId = ids[n];
        this._byId[ids[n]] = poly;
        this._level[ids[n]] = body.zoom;
        this.addLayer(poly);
        if (o.search && typeof props.name === "string" && props.name) {
          var pt = body.points[n];
          var lng = body.origin[0] + pt[0] * body.scale, lat = body.origin[1] + pt[1] * body.scale;
          if (o.shifted) { var g = wgsToGcj(lng, lat); lng = g[0]; lat = g[1]; }
          var entry = {id: o.search.layer + ":" + n, name: props.name,
                       code: props.code == null ? "" : String(props.code), kind: decode(o.search.kind),
                       layer: decode(o.search.layer), i: n, lat: lat, lng: lng,
                       full: "", initials: "", zoom: o.search.zoom || 0};
          entries.push(entry);
          this._entries[ids[n]] = entry;
        }
      }
      this.drawn = ids.length;
      this.state = "ready";
      this._addToSearch(entries);
      this._done();
      this.fire("bulkstate", {state: this.state, drawn: this.drawn});
      this._refine();
      if (o.search && entries.length) { this._loadPinyin(); }
    },

    // The names' pinyin (for "hy" finding 汉阳), asked for once the features are drawn.
    _loadPinyin: function () {
      var self = this;
      this._fetch(this._url({zoom: this.bucket, props: "", pinyin: 1, geometry: 0}))
        .then(function (body) {
          for (var n = 0; n < body.ids.length; n++) {
            var e = self._entries[body.ids[n]], py = body.pinyin[n];
            if (e && py) { e.full = py[0] || ""; e.initials = py[1] || ""; }
          }
          self.pinyinReady = true;
          self.fire("bulkpinyin");
        })
        .catch(function () { /* names still found by their characters */ });
    },

    // The tools of the map (maps/static/tools.js) search and label these features too.
    _addToSearch: function (entries) {
      var tools = this._map && this._map.gsTools;
      if (!tools || !entries.length || !tools.index) { return; }
      Array.prototype.push.apply(tools.index, entries);
      if (tools.labelled) {
        tools.labelled = tools.index.filter(function (e) { return e.zoom > 0; })
          .sort(function (a, b) { return a.zoom - b.zoom; });
        if (!tools._gsBulkNames && tools.map && tools.updateNames) {
          // names-by-zoom listens only when it had names at the start
          tools._gsBulkNames = true;
          var pending = false;
          tools.map.on("zoomend moveend overlayadd overlayremove resize", function () {
            if (pending) { return; }
            pending = true;
            L.Util.requestAnimFrame(function () { pending = false; tools.updateNames(); });
          });
        }
        if (tools.updateNames) { tools.updateNames(); }
      }
    },

    // Zoomed in past the bucket a feature was drawn at: its finer geometry for the view.
    _refine: function () {
      var map = this._map, o = this.options, self = this;
      if (!map || this.state !== "ready") { return; }
      var bucket = this._bucketFor(Math.round(map.getZoom()));
      if (bucket <= this.bucket) { return; }
      this._refineView(bucket, {props: ""}, function (id, n, body) {
        var poly = self._byId[id];
        if (!poly) { return false; }
        poly.setLatLngs(decodeGeometry(body.geometries[n], body.origin, body.scale, o.shifted));
        return true;
      });
    },

    _style: function (props) {
      var o = this.options, s = L.extend({}, o.style);
      if (o.fill) {
        var c = o.fill[1][props[o.fill[0]]];
        if (c) { s.fillColor = c; }
      }
      return s;
    },

    // a popup or tooltip table: the one routine of tools.js (loaded on every map)
    _table: function (pairs, props) {
      return L.geoservicePopup.table(this.options, pairs, props, true);
    },

    // The drawn feature with this code (or name), for pages and tests.
    feature: function (key) {
      var found = null;
      this.eachLayer(function (l) {
        var p = l.feature && l.feature.properties;
        if (!found && p && (p.code === key || p.name === key)) { found = l; }
      });
      return found;
    },

    note: function () {
      return this.options.label + "：共 " + thousands(this.options.total) + " 个要素";
    },
  }));

  L.geoserviceBulk = function (options) { return new Bulk(options); };
  L.GeoserviceBulk = Bulk;
  L.geoserviceBulk.wgsToGcj = wgsToGcj;
}());
