/* Facility layer + level selects (templates/_facility_fields.html): only the chosen layer's
   levels are offered; a level of another layer is cleared. Which levels a layer has is not
   decided here: each <optgroup data-layer> comes from the server (analysis/vocabulary.py
   level_choices, through web/coverage.py level_choices). */
window.gsSyncLevels = function (layer, level) {
  Array.prototype.forEach.call(level.querySelectorAll('optgroup'), function (g) {
    var on = g.getAttribute('data-layer') === layer.value;
    g.disabled = !on; g.hidden = !on;
  });
  var sel = level.options[level.selectedIndex];
  if (sel && sel.parentNode.tagName === 'OPTGROUP' && sel.parentNode.disabled) level.value = '';
};
