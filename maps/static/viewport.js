/* Layers too large for the page, drawn by view (maps/viewport.py).
 *
 * Zoomed in to options.minZoom or further, the layer asks the layer API for the features
 * of the current view (bbox, limit) after every move and draws them; zoomed out it draws
 * nothing and a note on the map says "放大后显示（共 N 个要素）". Text from data is only
 * ever put into the page as text nodes (textContent), never as HTML.
 */
(function () {
  "use strict";

  function thousands(n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  // CGCS2000/WGS84 -> GCJ-02: the one implementation is tools.js's (loaded on every map first)
  function wgsToGcj(lng, lat) { return L.geoserviceCrs.wgsToGcj(lng, lat); }

  function shiftCoords(coords) {
    if (typeof coords[0] === "number") { return wgsToGcj(coords[0], coords[1]); }
    return coords.map(shiftCoords);
  }

  var Viewport = L.FeatureGroup.extend({
    initialize: function (options) {
      L.FeatureGroup.prototype.initialize.call(this, []);
      L.setOptions(this, options);
      this.state = "idle";          // idle | zoomed_out | loading | ready | error
      this.matched = null;          // features in the last view (numberMatched)
      this.returned = 0;            // features drawn for the last view
      this.requests = 0;            // view requests sent
      this._seq = 0;
      this._abort = null;
      this._renderer = L.canvas({padding: 0.3});
    },

    onAdd: function (map) {
      L.FeatureGroup.prototype.onAdd.call(this, map);
      var note = L.control({position: "bottomright"});
      var self = this;
      note.onAdd = function () {
        var div = L.DomUtil.create("div", "gs-viewport-note");
        div.setAttribute("data-kind", self.options.kind);
        L.DomEvent.disableClickPropagation(div);
        return div;
      };
      this._note = note.addTo(map);
      map.on("moveend", this._update, this);
      this._update();
    },

    onRemove: function (map) {
      map.off("moveend", this._update, this);
      this._cancel();
      if (this._note) { this._note.remove(); this._note = null; }
      this.clearLayers();
      this.state = "idle";
      L.FeatureGroup.prototype.onRemove.call(this, map);
    },

    _setNote: function (text) {
      if (!this._note) { return; }
      var div = this._note.getContainer();
      div.textContent = text || "";
      div.style.display = text ? "" : "none";
    },

    _cancel: function () {
      this._seq += 1;
      if (this._abort) { this._abort.abort(); this._abort = null; }
    },

    _update: function () {
      var map = this._map, o = this.options;
      if (!map) { return; }
      this._cancel();
      if (map.getZoom() < o.minZoom) {
        this.clearLayers();
        this.matched = null;
        this.returned = 0;
        this.state = "zoomed_out";
        this._setNote(o.label + "：放大后显示（共 " + thousands(o.total) + " 个要素）");
        this.fire("viewstate", {state: this.state});
        return;
      }
      var b = map.getBounds();
      // On a GCJ-02 map the view is in GCJ-02 and the store in CGCS2000: widen the box by
      // more than the shift (under 0.01 degree) so that nothing at the edge is missed.
      var pad = o.shifted ? 0.01 : 0;
      var box = [Math.max(-180, b.getWest() - pad), Math.max(-90, b.getSouth() - pad),
                 Math.min(180, b.getEast() + pad), Math.min(90, b.getNorth() + pad)];
      var url = o.url + (o.url.indexOf("?") >= 0 ? "&" : "?") + "bbox=" +
        box.map(function (v) { return v.toFixed(6); }).join(",") + "&limit=" + o.limit;
      var seq = this._seq, self = this;
      var controller = window.AbortController ? new AbortController() : null;
      this._abort = controller;
      this.state = "loading";
      this.requests += 1;
      this._setNote(o.label + "：正在加载当前视野的要素……");
      fetch(url, {credentials: "same-origin", signal: controller ? controller.signal : undefined,
                  headers: {Accept: "application/geo+json, application/json"}})
        .then(function (r) {
          if (!r.ok) { throw new Error("HTTP " + r.status); }
          return r.json();
        })
        .then(function (body) {
          if (seq !== self._seq || !self._map) { return; }
          self._abort = null;
          self._draw(body);
        })
        .catch(function (err) {
          if (seq !== self._seq || (err && err.name === "AbortError")) { return; }
          self.state = "error";
          self._setNote(o.label + "：当前视野的要素加载失败，请稍后移动地图重试");
          self.fire("viewstate", {state: self.state});
        });
    },

    _accepts: function (props) {
      var where = this.options.where;
      if (!where) { return true; }
      for (var key in where) {
        if (Object.prototype.hasOwnProperty.call(where, key) &&
            where[key].indexOf(props[key]) < 0) { return false; }
      }
      return true;
    },

    _draw: function (body) {
      var o = this.options, self = this, drawn = 0;
      this.clearLayers();
      (body.features || []).forEach(function (f) {
        if (!f || !f.geometry) { return; }
        var props = f.properties || {};
        if (!self._accepts(props)) { return; }
        var layer = self._feature(f, props);
        if (layer) { self.addLayer(layer); drawn += 1; }
      });
      this.matched = body.numberMatched;
      this.returned = drawn;
      this.state = "ready";
      if (body.numberMatched > body.numberReturned) {
        this._setNote(o.label + "：当前视野共 " + thousands(body.numberMatched) + " 个要素，显示其中 " +
          thousands(body.numberReturned) + " 个，请继续放大");
      } else {
        this._setNote("");
      }
      this.fire("viewstate", {state: this.state, matched: this.matched, returned: drawn});
    },

    _style: function (props) {
      var o = this.options, s = L.extend({}, o.style);
      if (o.colorBy) {
        var c = o.colorBy[1][props[o.colorBy[0]]];
        if (c) { s.color = c; s.fillColor = c; }
      }
      return s;
    },

    _feature: function (f, props) {
      var o = this.options, g = f.geometry, s = this._style(props), layer;
      if (o.shifted) { g = {type: g.type, coordinates: shiftCoords(g.coordinates)}; }
      if (g.type === "Point") {
        var radius = s.radius || 4;
        if (o.radiusBy) {
          var v = Number(props[o.radiusBy]) || 0;
          radius = 4 + Math.sqrt(Math.min(Math.max(v, 0), 200));
        }
        var latlng = L.latLng(g.coordinates[1], g.coordinates[0]);
        layer = L.circleMarker(latlng, L.extend({}, s, {radius: radius, renderer: this._renderer}));
        if (o.circleM) {
          var group = L.featureGroup([
            L.circle(latlng, {radius: o.circleM, color: s.color, weight: 1, fill: true,
                              fillOpacity: 0.05, interactive: false, renderer: this._renderer}),
            layer]);
          this._bind(layer, props);
          return group;
        }
      } else {
        layer = L.geoJSON({type: "Feature", geometry: g, properties: props}, {
          style: function () { return s; },
          pointToLayer: function (feature, ll) {
            return L.circleMarker(ll, L.extend({}, s, {radius: s.radius || 5}));
          },
        });
      }
      this._bind(layer, props);
      return layer;
    },

    // a popup or tooltip table: the one routine of tools.js (loaded on every map)
    _table: function (pairs, props) {
      return L.geoservicePopup.table(this.options, pairs, props, false);
    },

    _bind: function (layer, props) {
      var o = this.options, self = this;
      if (o.tooltip.length) {
        layer.bindTooltip(function () { return self._table(o.tooltip, props); }, {sticky: true});
      }
      if (o.popup.length) {
        layer.bindPopup(function () { return self._table(o.popup, props); }, {maxWidth: 320});
      }
    },
  });

  L.geoserviceViewport = function (options) { return new Viewport(options); };
  L.GeoserviceViewport = Viewport;
  L.geoserviceViewport.wgsToGcj = wgsToGcj;  // the shift of a GCJ-02 basemap, for checks
}());
