/* The city map (the wall and the summary): Da Nang's 8 districts drawn in SVG from the
 * boundaries the server ships (/api/map/districts, with their attribution), Hoang Sa in an
 * inset, a marker per source coloured by its worst open alert, the moving sources (vehicles,
 * buses, vessels) with a short track and "lost" when they stop reporting, districts shaded
 * by the status the server ships. Polls /api/map. No tiles, no CDN: works offline.
 *
 *   IOCMap.mount(element, { onDistrict(name), onSource(place, alert) }) -> map
 *   map.select(districtName or "")   highlights a district (the page's filter)
 */
(function () {
  "use strict";

  var SVGNS = "http://www.w3.org/2000/svg";
  var W = 1000;
  // The mainland and the sea its vessels fish in (lon, lat); Hoang Sa goes in the inset.
  var MAIN = { west: 107.80, east: 108.66, south: 15.89, north: 16.25 };
  var INSET = { west: 111.10, east: 112.78, south: 15.62, north: 17.20 };
  // bottom right, over open sea east of the vessels' lanes (lon > 108.49)
  var INSET_BOX = { x: 792, y: 0, w: 200, h: 214 };
  var SEV_RANK = { info: 1, warning: 2, major: 3, critical: 4 };
  var KIND_SHAPE = { vehicle: "tri", bus: "square", vessel: "diamond" };
  // Labels of the small central districts moved off each other (degrees: lon, lat).
  var LABEL_NUDGE = { "Thanh Khe": [-0.012, 0.006], "Hai Chau": [0.006, -0.004],
    "Cam Le": [-0.012, -0.004], "Ngu Hanh Son": [0.026, -0.01], "Son Tra": [0.02, 0.012],
    "Lien Chieu": [-0.02, 0.02] };

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVGNS, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  function titled(node, text) {
    var t = el("title", {}, node);
    t.textContent = text;
    return node;
  }

  /* An equirectangular projection of a lon/lat box into a screen box, x scaled by cos(lat):
   * at city scale it is as true as any other. */
  function Projection(box, x0, y0, width) {
    var k = Math.cos(((box.north + box.south) / 2) * Math.PI / 180);
    this.scale = width / ((box.east - box.west) * k);
    this.k = k;
    this.box = box;
    this.x0 = x0;
    this.y0 = y0;
    this.height = (box.north - box.south) * this.scale;
  }
  Projection.prototype.xy = function (lon, lat) {
    return [this.x0 + (lon - this.box.west) * this.k * this.scale,
      this.y0 + (this.box.north - lat) * this.scale];
  };
  Projection.prototype.path = function (rings) {
    var self = this;
    return rings.map(function (ring) {
      return "M" + ring.map(function (p) {
        var xy = self.xy(p[0], p[1]);
        return xy[0].toFixed(1) + "," + xy[1].toFixed(1);
      }).join("L") + "Z";
    }).join("");
  };

  function partsOf(geometry) {
    return geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
  }

  /* The label point of a district: the area-weighted centre of its largest ring. */
  function labelPoint(geometry) {
    var best = null;
    var bestArea = -1;
    partsOf(geometry).forEach(function (poly) {
      var ring = poly[0];
      var a = 0, cx = 0, cy = 0;
      for (var i = 0; i < ring.length - 1; i++) {
        var f = ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1];
        a += f;
        cx += (ring[i][0] + ring[i + 1][0]) * f;
        cy += (ring[i][1] + ring[i + 1][1]) * f;
      }
      if (Math.abs(a) > bestArea) {
        bestArea = Math.abs(a);
        best = [cx / (3 * a), cy / (3 * a)];
      }
    });
    return best;
  }

  /* A district's status: the server's (dashboards/status.py, the one rule the summary shows
   * too), never judged here; a district the server ships none for has no data. */
  function districtStatus(name, live) {
    return (live.districts && live.districts[name]) || "no_data";
  }

  function shape(kind, x, y, r, parent, cls) {
    var s = KIND_SHAPE[kind];
    if (s === "tri") {
      return el("path", { d: "M" + x + "," + (y - r * 1.2) + "L" + (x + r * 1.1) + "," + (y + r * 0.8) +
        "L" + (x - r * 1.1) + "," + (y + r * 0.8) + "Z", "class": cls }, parent);
    }
    if (s === "square") {
      return el("rect", { x: x - r, y: y - r, width: 2 * r, height: 2 * r, rx: 1.5, "class": cls }, parent);
    }
    if (s === "diamond") {
      return el("path", { d: "M" + x + "," + (y - r * 1.3) + "L" + (x + r) + "," + y + "L" + x + "," +
        (y + r * 1.3) + "L" + (x - r) + "," + y + "Z", "class": cls }, parent);
    }
    return el("circle", { cx: x, cy: y, r: r, "class": cls }, parent);
  }

  function MapView(root, options) {
    this.root = root;
    this.options = options || {};
    this.main = new Projection(MAIN, 0, 0, W);
    this.height = Math.round(this.main.height);
    INSET_BOX.y = this.height - INSET_BOX.h - 6;
    this.inset = new Projection(INSET, INSET_BOX.x + 6, INSET_BOX.y + 22, INSET_BOX.w - 12);
    this.districtNodes = {};  // district -> path nodes
    this.selected = "";
    this.live = null;
    root.classList.add("city-map");
    root.innerHTML = "";
    this.svg = el("svg", { viewBox: "0 0 " + W + " " + this.height, role: "img",
      "aria-label": "Map of Da Nang: districts, sources and moving vehicles and vessels",
      preserveAspectRatio: "xMidYMid meet" }, root);
    el("rect", { x: 0, y: 0, width: W, height: this.height, "class": "map-sea" }, this.svg);
    this.gDistricts = el("g", { "class": "map-districts" }, this.svg);
    this.gLabels = el("g", { "class": "map-labels" }, this.svg);
    this.gInset = el("g", { "class": "map-inset" }, this.svg);
    this.gPlaces = el("g", { "class": "map-places" }, this.svg);
    this.gMoving = el("g", { "class": "map-moving" }, this.svg);
    this.attribution = document.createElement("p");
    this.attribution.className = "map-attrib";
    root.appendChild(this.attribution);
  }

  MapView.prototype.projectionOf = function (district) {
    return district === "Hoang Sa" ? this.inset : this.main;
  };

  MapView.prototype.drawDistricts = function (body) {
    var self = this;
    this.attribution.textContent = body.attribution;
    el("rect", { x: INSET_BOX.x, y: INSET_BOX.y, width: INSET_BOX.w, height: INSET_BOX.h,
      "class": "map-inset-box" }, this.gInset);
    var cap = el("text", { x: INSET_BOX.x + 8, y: INSET_BOX.y + 16, "class": "map-inset-label" }, this.gInset);
    cap.textContent = IOC.t("map.inset");
    if (cap.getComputedTextLength && cap.getComputedTextLength() > INSET_BOX.w - 16) {
      cap.setAttribute("textLength", String(INSET_BOX.w - 16));   // squeezed into the box
      cap.setAttribute("lengthAdjust", "spacingAndGlyphs");
    }
    body.geojson.features.forEach(function (f) {
      var name = f.properties.name;
      var proj = self.projectionOf(name);
      var parent = name === "Hoang Sa" ? self.gInset : self.gDistricts;
      var path = el("path", { d: proj.path(partsOf(f.geometry).map(function (p) { return p[0]; })),
        "class": "district st-none", "data-district": name, tabindex: "0" }, parent);
      titled(path, IOC.i18n.name("district", name));
      path.addEventListener("click", function () { self.pickDistrict(name); });
      path.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); self.pickDistrict(name); }
      });
      self.districtNodes[name] = path;
      if (name !== "Hoang Sa") {
        var at = labelPoint(f.geometry);
        var nudge = LABEL_NUDGE[name] || [0, 0];
        var xy = proj.xy(at[0] + nudge[0], at[1] + nudge[1]);
        var label = el("text", { x: xy[0].toFixed(1), y: xy[1].toFixed(1), "class": "map-label" },
          self.gLabels);
        label.textContent = IOC.i18n.name("district", name);
      }
    });
    this.root.dataset.districts = String(body.geojson.features.length);
  };

  MapView.prototype.pickDistrict = function (name) {
    if (this.options.onDistrict) this.options.onDistrict(name);
  };

  MapView.prototype.select = function (name) {
    var self = this;
    this.selected = name || "";
    Object.keys(this.districtNodes).forEach(function (d) {
      self.districtNodes[d].classList.toggle("selected", d === self.selected);
    });
  };

  MapView.prototype.marker = function (place, alert, parent, moving) {
    var self = this;
    var proj = this.projectionOf(place.district);
    var xy = proj.xy(place.lon, place.lat);
    var sev = alert ? alert.severity : "none";
    var g = el("g", { "class": "marker sev-" + sev + (moving ? " moving kind-" + place.kind : "") +
      (place.lost ? " lost" : ""), "data-source": place.id, "data-severity": sev }, parent);
    if (moving) {
      g.dataset.lost = String(!!place.lost);
      if (place.track && place.track.length > 1) {
        el("polyline", { "class": "track", points: place.track.map(function (p) {
          var q = proj.xy(p[1], p[0]);
          return q[0].toFixed(1) + "," + q[1].toFixed(1);
        }).join(" ") }, g);
      }
      shape(place.kind, xy[0], xy[1], 6.5, g, "dot");
      if (place.lost) {
        var t = el("text", { x: xy[0] + 8, y: xy[1] - 6, "class": "lost-label" }, g);
        t.textContent = IOC.t("map.lost");
      }
    } else {
      el("circle", { cx: xy[0].toFixed(1), cy: xy[1].toFixed(1), r: alert ? 6 : 3.6, "class": "dot" }, g);
    }
    titled(g, IOC.i18n.sourceName(place.id) + " (" + place.id + ") · " +
      IOC.i18n.name("district", place.district) + (alert ? " · " + IOC.t("severity." + alert.severity) +
      (alert.open > 1 ? " (" + IOC.t("sum.open_n", { n: alert.open }) + ")" : "") : "") +
      (place.lost ? " · " + IOC.t("map.lost_since", { time: IOC.fmtTime(place.ts) }) : ""));
    g.addEventListener("click", function (ev) {
      ev.stopPropagation();
      if (self.options.onSource) self.options.onSource(place, alert || null);
    });
    return g;
  };

  MapView.prototype.update = function (live) {
    var self = this;
    this.live = live;
    var alerts = live.alerts || {};
    Object.keys(this.districtNodes).forEach(function (d) {
      var st = districtStatus(d, live);
      var node = self.districtNodes[d];
      node.setAttribute("class", "district st-" + st + (d === self.selected ? " selected" : ""));
      node.dataset.status = st;
    });
    // quiet places first, so the ones with alerts are drawn on top
    var places = live.places.slice().sort(function (a, b) {
      return (SEV_RANK[(alerts[a.id] || {}).severity] || 0) - (SEV_RANK[(alerts[b.id] || {}).severity] || 0);
    });
    this.gPlaces.textContent = "";
    places.forEach(function (p) { self.marker(p, alerts[p.id], self.gPlaces, false); });
    this.gMoving.textContent = "";
    live.moving.forEach(function (m) { self.marker(m, alerts[m.id], self.gMoving, true); });
    this.root.dataset.markers = String(live.places.length + live.moving.length);
    this.root.dataset.moving = String(live.moving.length);
    this.root.dataset.lost = String(live.moving.filter(function (m) { return m.lost; }).length);
    this.root.dataset.updates = String(Number(this.root.dataset.updates || 0) + 1);
  };

  MapView.prototype.poll = function () {
    var self = this;
    var delay = 3000;
    IOC.fetchJSON("/api/map", IOC.token(false)).then(function (live) {
      delay = Math.max(1000, (live.poll_s || 3) * 1000);
      self.update(live);
    }, function () { delay = 5000; }).then(function () {
      self.timer = setTimeout(function () { self.poll(); }, delay);
    });
  };

  function mount(root, options) {
    var view = new MapView(root, options);
    IOC.i18n.ready.then(function () {  // the map's words in the reader's language
      view.svg.setAttribute("aria-label", IOC.t("map.aria"));
      return IOC.fetchJSON("/api/map/districts");
    }).then(function (body) {
      view.drawDistricts(body);
      view.select(view.selected);
      view.poll();
    }, function (err) {
      view.attribution.textContent = IOC.t("map.error", { reason: err.message });
    });
    return view;
  }

  window.IOCMap = { mount: mount, districtStatus: districtStatus };
})();
