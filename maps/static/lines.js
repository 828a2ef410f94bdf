/* Boundary lines of a review, every one drawn at every zoom (maps/lines.py).
 *
 * Asks the lines endpoint for every line simplified to about one pixel at the map's zoom,
 * draws them on one canvas, and when zoomed in past that bucket swaps in finer geometry
 * for the view's lines. From options.labelZoom on, the length labels of the view's lines
 * at least options.labelMinPx long on screen go into the given feature group (which the
 * map's tools declutter). Names are only ever set as text (textContent).
 *
 * State for pages and tests: layer.state (idle | loading | ready | error), layer.drawn,
 * window.geoservice.bulk[options.key] (boundary_lines), window.geoservice.bulkPending / readyAt (shared
 * with province.js).
 */
(function () {
  "use strict";

  var MAX_LABELS = 400;

  function pagePending(delta) {
    var gs = window.geoservice = window.geoservice || {};
    gs.bulkPending = (gs.bulkPending || 0) + delta;
    if (gs.bulkPending === 0 && delta < 0) {
      gs.readyAt = window.performance ? performance.now() : Date.now();
    }
  }

  function decodeLine(parts, origin, scale, shifted) {
    var shift = shifted && L.geoserviceBulk && L.geoserviceBulk.wgsToGcj, out = [];
    for (var p = 0; p < parts.length; p++) {
      var flat = parts[p], x = 0, y = 0, line = new Array(flat.length / 2);
      for (var k = 0; k < flat.length; k += 2) {
        x += flat[k]; y += flat[k + 1];
        var lng = origin[0] + x * scale, lat = origin[1] + y * scale;
        if (shift) { var g = shift(lng, lat); lng = g[0]; lat = g[1]; }
        line[k / 2] = L.latLng(lat, lng);
      }
      out.push(line);
    }
    return out.length === 1 ? out[0] : out;
  }

  function km(v) {
    return v.toLocaleString("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2}) + " 千米";
  }

  // zoom bucket, URL and JSON fetch: province.js's (loaded first, maps/lines.py)
  var Lines = L.FeatureGroup.extend(L.extend({}, L.geoserviceFetchMixin, {
    initialize: function (options, labels) {
      L.FeatureGroup.prototype.initialize.call(this, []);
      L.setOptions(this, options);
      this.labels = labels;
      this.state = "idle";
      this.drawn = 0;
      this.requests = 0;
      this.bucket = null;
      this._byId = {};
      this._level = {};
      this._mids = {};
      this._seq = 0;
      this._pending = false;
      var gs = window.geoservice = window.geoservice || {};
      gs.bulk = gs.bulk || {};
      // one canvas with the units' bulk layer (options.rendererOf): a canvas catches every
      // click over it, so two would hide the lower one's features from the mouse
      var shared = options.rendererOf && gs.bulk[options.rendererOf];
      this._renderer = shared && shared._renderer ? shared._renderer
        : L.canvas({padding: 0.2, tolerance: 4});
      gs.bulk[options.key || "boundary_lines"] = this;
      this.bindTooltip(function (layer) {
        var p = layer.gsProps || {}, div = L.DomUtil.create("div");
        var table = L.DomUtil.create("table", "", div);
        (options.tooltip || []).forEach(function (r) {
          var v = p[r[0]];
          if (r[0] === "km") { v = v == null ? "" : km(v); }
          var row = L.DomUtil.create("tr", "", table);
          L.DomUtil.create("th", "", row).textContent = r[1];
          L.DomUtil.create("td", "", row).textContent = v == null ? "" : String(v);
        });
        return div;
      }, {sticky: true});
    },

    onAdd: function (map) {
      L.FeatureGroup.prototype.onAdd.call(this, map);
      map.on("moveend", this._moved, this);
      if (this.state === "idle" || this.state === "error") {
        if (!this._pending) { this._pending = true; pagePending(1); }
        this._load();
      } else { this._moved(); }
    },

    onRemove: function (map) {
      map.off("moveend", this._moved, this);
      if (this.labels) { this.labels.clearLayers(); }
      L.FeatureGroup.prototype.onRemove.call(this, map);
    },


    _done: function () {
      if (this._pending) { this._pending = false; pagePending(-1); }
    },

    _load: function () {
      var self = this;
      this.state = "loading";
      this._fetch(this._url({zoom: this._bucketFor(Math.round(this._map.getZoom()))}))
        .then(function (body) { self._build(body); })
        .catch(function (err) {
          self.state = "error";
          if (window.console) { console.error("geoservice boundary lines: " + err); }
          self._done();
        });
    },

    _build: function (body) {
      var o = this.options;
      this.bucket = body.zoom;
      for (var n = 0; n < body.ids.length; n++) {
        var id = body.ids[n], kind = body.kind[n];
        var style = L.extend({}, o.styles[kind] || o.styles.shared || {}, {renderer: this._renderer});
        var line = L.polyline(decodeLine(body.lines[n], body.origin, body.scale, o.shifted), style);
        line.gsId = id;
        line.gsProps = {kind: kind, label: body.label[n], km: body.km[n]};
        var m = body.mids[n], lng = body.origin[0] + m[0] * body.scale,
            lat = body.origin[1] + m[1] * body.scale;
        if (o.shifted && L.geoserviceBulk) { var g = L.geoserviceBulk.wgsToGcj(lng, lat); lng = g[0]; lat = g[1]; }
        this._mids[id] = L.latLng(lat, lng);
        this._byId[id] = line;
        this._level[id] = body.zoom;
        this.addLayer(line);
      }
      this.drawn = body.ids.length;
      this.state = "ready";
      this._done();
      this.fire("bulkstate", {state: this.state, drawn: this.drawn});
      this._moved();
    },

    _moved: function () {
      if (!this._map || this.state !== "ready") { return; }
      this._labels();
      this._refine();
    },

    // Length labels of the view's lines long enough on screen, from labelZoom on.
    _labels: function () {
      var map = this._map, o = this.options, group = this.labels;
      if (!group) { return; }
      group.clearLayers();
      if (map.getZoom() < o.labelZoom) { return; }
      var view = map.getBounds(), lat = map.getCenter().lat * Math.PI / 180;
      var mpp = 40075016.686 * Math.cos(lat) / Math.pow(2, map.getZoom() + 8), shown = 0;
      for (var id in this._byId) {
        var line = this._byId[id], p = line.gsProps, mid = this._mids[id];
        if (!view.contains(mid) || p.km * 1000 / mpp < o.labelMinPx) { continue; }
        var div = document.createElement("div");
        div.className = "gs-line-label" + (p.kind === "outer" ? " gs-line-outer" : "");
        div.setAttribute("data-km", String(p.km));
        div.textContent = km(p.km);
        group.addLayer(L.marker(mid, {icon: L.divIcon({html: div, iconSize: [80, 16],
          iconAnchor: [40, 8], className: "gs-line-label-icon"}), interactive: false}));
        if (++shown >= MAX_LABELS) { break; }
      }
    },

    _refine: function () {
      var map = this._map, o = this.options, self = this;
      var bucket = this._bucketFor(Math.round(map.getZoom()));
      if (bucket <= this.bucket) { return; }
      this._refineView(bucket, {}, function (id, n, body) {
        var line = self._byId[id];
        if (!line) { return false; }
        line.setLatLngs(decodeLine(body.lines[n], body.origin, body.scale, o.shifted));
        return true;
      });
    },
  }));

  L.geoserviceLines = function (options, labels) { return new Lines(options, labels); };
}());
