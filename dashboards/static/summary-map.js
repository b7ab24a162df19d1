/* The summary's map (map.js): a district or a marker clicked opens the wall filtered to
 * that district (and, for a marker with an open alert, that alert's detail). */
(function () {
  "use strict";

  var root = document.getElementById("map");
  if (!root || !window.IOCMap) return;

  window.IOCMap.mount(root, {
    onDistrict: function (name) {
      window.location.assign("/?district=" + encodeURIComponent(name));
    },
    onSource: function (place, alert) {
      window.location.assign("/?district=" + encodeURIComponent(place.district) +
        (alert ? "&alert=" + encodeURIComponent(alert.alert_id) : ""));
    }
  });
})();
