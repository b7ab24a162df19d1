/* The leadership reports page (/reports): pick a period, group and district; the figures come
 * from GET /api/reports (the archive, see docs/protocol.md) with the bearer token; the CSV is
 * GET /api/reports.csv, fetched with the token and saved through a blob link.
 *
 * body[data-loaded] counts the reports rendered and body[data-period] names the one shown
 * (tests wait on them); #banner shows the server's reason when a report cannot be made.
 */
(function () {
  "use strict";

  var esc = IOC.esc;
  var SEVS = ["critical", "major", "warning", "info"];
  var state = { token: null, catalog: null, seq: 0, loaded: 0 };

  function $(id) { return document.getElementById(id); }

  function today() {  // the date in Da Nang (UTC+7)
    return new Date(Date.now() + 7 * 3600 * 1000).toISOString().slice(0, 10);
  }

  function query() {
    var q = new URLSearchParams();
    q.set("period", $("period").value);
    q.set("from", $("from").value || today());
    if ($("period").value === "custom") q.set("to", $("to").value || $("from").value || today());
    if ($("group").value) q.set("group", $("group").value);
    if ($("district").value) q.set("district", $("district").value);
    return q;
  }

  function fail(text) {
    var el = $("banner");
    el.className = "banner error";
    el.textContent = text;
    el.hidden = false;
  }

  function get(path) {
    var headers = state.token ? { "Authorization": "Bearer " + state.token } : {};
    return fetch(path, { headers: headers, cache: "no-store" }).then(function (resp) {
      if (resp.ok) return resp;
      return resp.text().then(function (body) {
        var reason = body;
        try { var j = JSON.parse(body); reason = j.error + ": " + j.reason; } catch (e) { /* text */ }
        if (resp.status === 401) { IOC.forgetToken(); reason = "the access token was refused"; }
        throw new Error("HTTP " + resp.status + ": " + reason);
      });
    });
  }

  function load() {
    var seq = ++state.seq;
    $("report").setAttribute("aria-busy", "true");
    get("/api/reports?" + query().toString()).then(function (resp) { return resp.json(); })
      .then(function (r) {
        if (seq !== state.seq) return;  // a newer pick is on its way
        $("banner").hidden = true;
        render(r);
      }, function (err) { if (seq === state.seq) fail(IOC.t("r.no_report", { reason: err.message })); });
  }

  function trend(pct, lowerIsBetter) {
    if (typeof pct !== "number") return "";
    var good = lowerIsBetter ? pct < 0 : pct > 0;
    var cls = pct === 0 ? "" : (good ? "trend-down" : "trend-up");
    return '<span class="' + cls + '">' + esc(IOC.t("r.vs_previous",
      { pct: (pct > 0 ? "+" : "") + pct.toFixed(0) })) + "</span>";
  }

  function share(x) {
    return typeof x.share === "number" ? Math.round(100 * x.share) + " %" : "–";
  }

  function slaCell(f) {
    var opened = 0, within = 0;
    SEVS.forEach(function (s) { opened += f.sla[s].opened; within += f.sla[s].within; });
    return opened ? Math.round(100 * within / opened) + " %" : "–";
  }

  function row(name, f, key) {
    return '<tr data-' + key + '="' + esc(name) + '"><td>' + esc(IOC.i18n.name(key, name)) +
      "</td><td>" + f.opened +
      "</td>" + SEVS.map(function (s) { return "<td>" + f.by_severity[s] + "</td>"; }).join("") +
      "<td>" + f.incidents + "</td><td>" + esc(IOC.fmtDuration(f.mtta_s)) + "</td><td>" +
      esc(IOC.fmtDuration(f.mttr_s)) + "</td><td>" + slaCell(f) + "</td></tr>";
  }

  function chart(k, start, end, resolution) {
    var step = resolution === "h" ? 3600 : 86400;
    var n = Math.max(1, Math.round((end - start) / step));
    var values = new Array(n);
    for (var i = 0; i < n; i++) values[i] = null;
    k.points.forEach(function (p) {
      var idx = Math.floor((p.t - start) / step);
      if (idx >= 0 && idx < n) values[idx] = p.v;
    });
    return IOC.sparkline(values, { width: 320, height: 60, label: k.name });
  }

  function render(r) {
    var t = r.totals;
    $("period-label").textContent = r.period.label +
      (r.filters.group ? " · " + IOC.i18n.name("group", r.filters.group) : "") +
      (r.filters.district ? " · " + IOC.i18n.name("district", r.filters.district) : "");
    $("r-opened").textContent = t.opened;
    $("r-opened-trend").innerHTML = trend(t.trend_pct.opened, true);
    $("r-incidents").textContent = t.incidents;
    $("r-mtta").textContent = IOC.fmtDuration(t.mtta_s);
    $("r-mtta-trend").innerHTML = trend(t.trend_pct.mtta_s, true);
    $("r-mttr").textContent = IOC.fmtDuration(t.mttr_s);
    $("r-mttr-trend").innerHTML = trend(t.trend_pct.mttr_s, true);
    $("r-sla").innerHTML = SEVS.map(function (s) {
      var x = t.sla[s];
      return '<tr data-severity="' + s + '"><td>' + esc(IOC.t("severity." + s)) + "</td><td>" +
        esc(IOC.fmtDuration(r.sla_s[s])) + "</td><td>" + x.opened + "</td><td>" + x.within +
        "</td><td>" + share(x) + "</td></tr>";
    }).join("");
    $("r-groups").innerHTML = r.groups.map(function (g) { return row(g.group, g, "group"); }).join("");
    $("r-districts").innerHTML = r.districts.map(function (d) {
      return row(d.district, d, "district");
    }).join("");
    $("r-sources").innerHTML = r.noisiest_sources.map(function (s) {
      return "<li>" + esc(s.source) + " <small>" + esc(IOC.i18n.name("group", s.group)) + ", " +
        esc(IOC.i18n.name("district", s.district)) + "</small> <b>" + s.opened + "</b></li>";
    }).join("") || '<li class="empty">' + esc(IOC.t("r.none_opened")) + "</li>";
    $("r-detectors").innerHTML = r.noisiest_detectors.map(function (d) {
      return "<li>" + esc(d.detector) + " <b>" + d.opened + "</b></li>";
    }).join("") || '<li class="empty">' + esc(IOC.t("r.none_opened")) + "</li>";
    var charts = [];
    r.groups.forEach(function (g) {
      g.kpis.forEach(function (k) {
        if (!k.points.length) return;
        charts.push('<div class="kpi-chart" data-kpi="' + esc(g.group + "/" + k.name) + '">' +
          '<div class="k-title">' + esc(IOC.i18n.name("group", g.group)) + ": " +
          esc(IOC.i18n.name("kpi", g.group + "." + k.name)) + "</div>" +
          chart(k, r.period.start, r.period.end, r.period.resolution) +
          '<div class="k-range">' + esc(IOC.t("rep.kpi_stats", { mean: IOC.fmtNum(k.mean),
            unit: k.unit || "", min: IOC.fmtNum(k.min), max: IOC.fmtNum(k.max) })) + "</div></div>");
      });
    });
    $("r-kpis").innerHTML = charts.join("") ||
      '<p class="empty">' + esc(IOC.t("r.no_rollups")) + "</p>";
    $("report").setAttribute("aria-busy", "false");
    state.loaded += 1;
    document.body.dataset.period = r.period.label;
    document.body.dataset.loaded = String(state.loaded);
  }

  function downloadCsv() {
    var q = query();
    get("/api/reports.csv?" + q.toString()).then(function (resp) {
      var name = "ioc-report.csv";
      var cd = resp.headers.get("Content-Disposition") || "";
      var m = /filename="([^"]+)"/.exec(cd);
      if (m) name = m[1];
      return resp.blob().then(function (blob) {
        var a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = name;
        document.body.appendChild(a);
        a.click();
        setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      });
    }).catch(function (err) { fail(IOC.t("r.no_csv", { reason: err.message })); });
  }

  function shift(dir) {  // the period before / after the one shown
    var from = new Date(($("from").value || today()) + "T00:00:00Z");
    var kind = $("period").value;
    if (kind === "day") from.setUTCDate(from.getUTCDate() + dir);
    else if (kind === "week") from.setUTCDate(from.getUTCDate() + 7 * dir);
    else if (kind === "month") from.setUTCMonth(from.getUTCMonth() + dir);
    else if (kind === "quarter") from.setUTCMonth(from.getUTCMonth() + 3 * dir);
    else {
      var to = new Date(($("to").value || $("from").value) + "T00:00:00Z");
      var days = Math.round((to - from) / 86400000) + 1;
      from.setUTCDate(from.getUTCDate() + dir * days);
      to.setUTCDate(to.getUTCDate() + dir * days);
      $("to").value = to.toISOString().slice(0, 10);
    }
    $("from").value = from.toISOString().slice(0, 10);
    load();
  }

  function start() {
    IOC.startClock($("clock"));
    state.token = IOC.token();
    IOC.account();
    var params = new URLSearchParams(window.location.search);
    ["period", "from", "to", "group", "district"].forEach(function (name) {
      if (params.get(name)) $(name).value = params.get(name);
    });
    if (!$("from").value) $("from").value = today();
    $("to-label").hidden = $("period").value !== "custom";
    IOC.loadCatalog().then(function (cat) {
      state.catalog = cat;
      var g = params.get("group"), d = params.get("district");
      $("group").insertAdjacentHTML("beforeend", cat.groups.map(function (x) {
        return '<option value="' + esc(x.slug) + '">' + esc(cat.groupName(x.slug)) + "</option>";
      }).join(""));
      $("district").insertAdjacentHTML("beforeend", cat.districts.map(function (x) {
        return '<option value="' + esc(x.name) + '">' + esc(IOC.i18n.name("district", x.name)) + "</option>";
      }).join(""));
      if (g) $("group").value = g;
      if (d) $("district").value = d;
      load();
    }, function (err) { fail(IOC.t("error.catalog", { reason: err.message })); });
    $("period").addEventListener("change", function () {
      $("to-label").hidden = $("period").value !== "custom";
      if ($("period").value === "custom" && !$("to").value) $("to").value = $("from").value;
      load();
    });
    ["from", "to", "group", "district"].forEach(function (id) {
      $(id).addEventListener("change", load);
    });
    $("prev").addEventListener("click", function () { shift(-1); });
    $("next").addEventListener("click", function () { shift(1); });
    $("csv").addEventListener("click", downloadCsv);
    $("print").addEventListener("click", function () { window.print(); });
  }

  IOC.i18n.ready.then(start);
})();
