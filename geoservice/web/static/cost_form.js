/* The 出行成本 fields (templates/_cost_form.html) of the coverage and siting forms.

   Shows the fields of the chosen cost (道路成本 for the road network, the file and its unit
   for an OD matrix) and disables the others so they are not sent; the radius (and the
   cutoffs') unit label follows the cost: 米 or 分钟. When the unit changes, the radius
   becomes the layer's (and level's) default in the new unit (defaults.toml
   [coverage.radius_m] / [coverage.radius_min], from the server in data-radius-defaults) and
   the cutoffs are cleared. With data-post-switch (the coverage page, a GET form), an OD
   matrix sends the form as POST multipart with its CSRF token: a file cannot go in a link. */
window.gsCostForm = function (form) {
  var box = form.querySelector('#cost-fields');
  if (!box) return null;
  var cost = box.querySelector('#cost'), field = box.querySelector('#cost_field');
  var unit = box.querySelector('#cost_unit'), matrix = box.querySelector('#cost_matrix');
  var radius = form.querySelector('#radius'), cutoffs = form.querySelector('#cutoffs');
  var layer = form.querySelector('#layer'), level = form.querySelector('#level');
  var defaults = JSON.parse(box.getAttribute('data-radius-defaults') || '{}');
  var postSwitch = box.getAttribute('data-post-switch') === '1';
  var csrf = form.querySelector('input[name=csrf_token]');

  function currentUnit() {
    if (cost.value === 'network') return field.value === 'time' ? 'min' : 'm';
    if (cost.value === 'matrix') return unit.value;
    return 'm';
  }
  function defaultRadius(u) {
    var d = defaults[(layer ? layer.value : '') + '|' + (level ? level.value : '')] ||
      defaults[(layer ? layer.value : '') + '|'];
    return d && d[u] != null ? d[u] : null;
  }
  function show(id, on) {
    var el = box.querySelector('#' + id);
    el.hidden = !on;
    el.style.display = on ? '' : 'none';
    Array.prototype.forEach.call(el.querySelectorAll('input, select'), function (x) {
      x.disabled = !on;
    });
  }
  var last = currentUnit();
  function sync(changed) {
    var isMatrix = cost.value === 'matrix';
    show('cost-network', cost.value === 'network');
    show('cost-matrix', isMatrix);
    matrix.required = isMatrix;
    var u = currentUnit(), word = u === 'min' ? '分钟' : '米';
    Array.prototype.forEach.call(form.querySelectorAll('.gs-radius-unit'), function (s) {
      s.textContent = word;
    });
    var d = defaultRadius(u);
    if (radius) {
      radius.max = u === 'min' ? 600 : 200000;
      radius.min = u === 'min' ? 0.1 : 1;
      radius.placeholder = d != null ? '默认 ' + d : '';
      if (changed && u !== last) radius.value = d != null ? d : '';
    }
    if (cutoffs && changed && u !== last) cutoffs.value = '';
    last = u;
    if (postSwitch) {
      form.method = isMatrix ? 'post' : 'get';
      form.enctype = isMatrix ? 'multipart/form-data' : 'application/x-www-form-urlencoded';
      if (csrf) csrf.disabled = !isMatrix;
    }
  }
  [cost, field, unit].forEach(function (el) {
    if (el) el.addEventListener('change', function () { sync(true); });
  });
  sync(false);
  return {unit: currentUnit, defaultRadius: defaultRadius, sync: sync};
};
