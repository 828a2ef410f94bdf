/* Basemaps of every map (maps/base.py: base_map, BasemapSwitcher).

   - L.CRS.EPSG4490: the CGCS2000 'c' tile matrix of 天地图 (WMTS TILEMATRIXSET=c):
     geographic lon/lat, top-left corner (-180°, 90°), level L has 2^L x 2^(L-1) tiles of
     256 px, each 360/2^L degrees wide (level 1: 2 x 1 tiles of 180°; 0.703125°/px).
     Leaflet's zoom is the level itself, so {z} in the tile URL is the TILEMATRIX and a
     zoom shows about as much as the same zoom of Web Mercator.
   - L.geoserviceBasemaps(map, options, layers): the "底图" group of the layer switcher.
     The choice is remembered (localStorage, and a cookie the server reads to build the
     next page for it); a basemap of the map's frame (CRS and datum) is switched live, one
     of another frame reloads the page with ?basemap=<key>.
*/
(function () {
  'use strict';
  if (!window.L) { return; }

  L.CRS.EPSG4490 = L.extend({}, L.CRS.EPSG4326, {
    code: 'EPSG:4490',
    // pixels per 360° at a zoom: 2 x 256 x 2^(zoom-1) = 256 x 2^zoom, as Web Mercator
    scale: function (zoom) { return 256 * Math.pow(2, zoom - 1); },
    zoom: function (scale) { return Math.log(scale / 256) / Math.LN2 + 1; }
  });

  var STORE_KEY = 'geoservice.basemap';
  var COOKIE = 'gs_basemap';

  function remember(key) {
    try { window.localStorage.setItem(STORE_KEY, key); } catch (e) { /* private mode */ }
    document.cookie = COOKIE + '=' + encodeURIComponent(key) +
      '; path=/; max-age=31536000; SameSite=Lax';
  }

  function remembered() {
    try { return window.localStorage.getItem(STORE_KEY); } catch (e) { return null; }
  }

  function reload(key) {
    var url = new URL(window.location.href);
    url.searchParams.set('basemap', key);
    window.location.assign(url.toString());
  }

  L.geoserviceBasemaps = function (map, options, layers) {
    var state = {active: options.active, layers: layers, live: options.live};
    map.geoserviceBasemaps = state;

    function keyOf(layer) {
      for (var k in layers) { if (layers[k] === layer) { return k; } }
      return null;
    }

    function show(key) {  // a live switch, as a click in the switcher would do
      if (key === state.active) { return; }
      var before = layers[state.active];
      if (before && map.hasLayer(before)) { map.removeLayer(before); }
      map.addLayer(layers[key]);
      state.active = key;
    }

    map.on('baselayerchange', function (e) {
      var key = keyOf(e.layer);
      if (key === null) { return; }
      remember(key);
      state.active = key;
      if (!state.live[key]) { reload(key); }
    });

    var asked = new URL(window.location.href).searchParams.get('basemap');
    if (asked !== null && asked === options.active) {
      remember(asked);
    }
    // after the map's script: the layer switcher exists now
    setTimeout(function () {
      var base = map.getContainer().querySelector('.leaflet-control-layers-base');
      if (base && !base.querySelector('.gs-basemap-title')) {
        var title = L.DomUtil.create('div', 'gs-basemap-title');
        title.textContent = '底图';
        title.style.fontWeight = 'bold';
        base.insertBefore(title, base.firstChild);
      }
      var stored = remembered();
      if (asked === null && stored && stored !== state.active &&
          Object.prototype.hasOwnProperty.call(layers, stored)) {
        if (state.live[stored]) {
          show(stored);
          remember(stored);
        } else {
          reload(stored);
        }
      }
    }, 0);
    return state;
  };
}());
