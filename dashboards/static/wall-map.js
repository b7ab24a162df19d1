/* The wall's map (map.js) and the wall: a district clicked filters the board to it (clicked
 * again: all districts), a marker clicked filters to its district and opens the detail of its
 * worst open alert; ?alert=<id> (a marker clicked on the summary) opens that alert's detail
 * once it is on the wall. */
(function () {
  "use strict";

  var root = document.getElementById("map");
  if (!root || !window.IOCMap) return;

  function wall() { return window.IOC_WALL || null; }

  var view = window.IOCMap.mount(root, {
    onDistrict: function (name) {
      var w = wall();
      if (!w) return;
      w.setFilter("district", w.state.filters.district === name ? "" : name);
      view.select(w.state.filters.district);
    },
    onSource: function (place, alert) {
      var w = wall();
      if (!w) return;
      w.setFilter("district", place.district);
      view.select(place.district);
      if (alert) w.openDetail(alert.alert_id);
    }
  });

  // the page's own district filter (the form, the URL) shows on the map
  setInterval(function () {
    var w = wall();
    if (w && view.selected !== w.state.filters.district) view.select(w.state.filters.district);
  }, 500);

  var wanted = new URLSearchParams(window.location.search).get("alert");
  if (wanted) {
    var tries = 0;
    var timer = setInterval(function () {
      var w = wall();
      tries += 1;
      if (w && w.state.alerts.has(wanted)) {
        clearInterval(timer);
        w.openDetail(wanted);
      } else if (tries > 120) {
        clearInterval(timer);
      }
    }, 250);
  }
})();
