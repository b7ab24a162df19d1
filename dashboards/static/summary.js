/* The leadership summary: every service group and every district with a red/amber/green
 * status and a 24-hour trend, open alerts by severity, MTTA and MTTR (city-wide and per group),
 * the noisiest detectors. Read-only. Data: the `summary` frame / GET /api/summary (groups,
 * districts and their trends), and the snapshot's indicators and alerts for the district rows
 * until the first summary arrives (docs/protocol.md v1). */
(function () {
  "use strict";

  var IOC = window.IOC;
  var esc = IOC.esc;
  var $ = function (id) { return document.getElementById(id); };
  var DAY = 86400;

  var state = {
    catalog: null,
    summary: null,
    alerts: new Map(),
    indicators: new Map(),     // "group|district" -> latest GroupIndicator
    token: null
  };
  var conn = null;
  var queued = false;
  var fresh = new IOC.Freshness($("stale"));

  /* --- red / amber / green ---------------------------------------------------------------- */
  function rag(worst, reporting, expected, inBreach, hasData) {
    var ratio = expected ? reporting / expected : 1;
    if (worst === "critical" || worst === "major" || (expected && ratio < 0.5)) return "red";
    if (worst === "warning" || inBreach > 0 || (expected && ratio < 0.9)) return "amber";
    return hasData ? "green" : "none";
  }
  var RAG_WORD = { red: "RED", amber: "AMBER", green: "GREEN", none: "NO DATA" };

  /* --- state ------------------------------------------------------------------------------ */
  function applyAlert(a) {
    var prev = state.alerts.get(a.alert_id);
    if (prev && prev.version >= a.version) return;
    if (a.status === "resolved") state.alerts.delete(a.alert_id);
    else state.alerts.set(a.alert_id, a);
  }

  function applyIndicator(ind) {
    var key = ind.group + "|" + ind.district;
    var prev = state.indicators.get(key);
    if (!prev || prev.end <= ind.end) state.indicators.set(key, ind);
  }

  function onSnapshot(msg) {
    state.alerts.clear();
    state.indicators.clear();
    (msg.alerts || []).forEach(applyAlert);
    (msg.indicators || []).forEach(applyIndicator);
    fresh.server(msg);
    render();
  }

  function onDelta(msg) {
    if (msg.kind === "alert") applyAlert(msg.data);
    else if (msg.kind === "indicator") { applyIndicator(msg.data); fresh.indicator(); }
    render();
  }

  /* The page's Content-Security-Policy allows no inline style attribute: sizes computed here
   * travel as data-grow / data-width and are set through the CSSOM, which it allows. */
  function styleFromData(root) {
    root.querySelectorAll("[data-grow]").forEach(function (el) {
      el.style.flexGrow = el.dataset.grow;
    });
    root.querySelectorAll("[data-width]").forEach(function (el) {
      el.style.width = el.dataset.width + "%";
    });
  }

  function setSummary(s) {
    state.summary = s;
    document.body.dataset.summaries = String(Number(document.body.dataset.summaries || 0) + 1);
    render();
  }

  function refreshSummary() {
    return IOC.fetchJSON("/api/summary", state.token).then(setSummary, function (err) {
      if (err.status === 401) showBanner("The server refused this token.", "error");
    });
  }

  /* --- rendering -------------------------------------------------------------------------- */
  function render() {
    if (queued) return;
    queued = true;
    window.requestAnimationFrame(function () { queued = false; renderNow(); });
  }

  function renderNow() {
    var s = state.summary;
    if (s) renderHeadline(s);
    if (state.catalog) {
      renderGroups(s);
      renderDistricts(s);
    }
  }

  function renderHeadline(s) {
    $("as-of").textContent = "as of " + (s.as_of ? IOC.fmtDateTime(s.as_of) : "–");
    var open = s.open_alerts || { total: 0, by_severity: {} };
    $("open-total").textContent = String(open.total);
    $("open-sev").innerHTML = ["critical", "major", "warning", "info"].map(function (sev) {
      var n = (open.by_severity || {})[sev] || 0;
      return '<span class="sev-count sev-' + sev + (n ? "" : " zero") + '" data-severity="' +
        sev + '"><b>' + n + "</b> " + sev + "</span>";
    }).join("");
    $("fig-open").dataset.worst = ["critical", "major", "warning", "info"].filter(function (sev) {
      return (open.by_severity || {})[sev];
    })[0] || "none";
    $("open-incidents").textContent = String(s.open_incidents || 0);
    $("fig-incidents").classList.toggle("hot", (s.open_incidents || 0) > 0);
    var day = s.last_24h || {};
    $("mtta").textContent = IOC.fmtDuration(day.mtta_s);
    $("mttr").textContent = IOC.fmtDuration(day.mttr_s);
    $("acked").textContent = String(day.acknowledged || 0);
    $("resolved").textContent = String(day.resolved || 0);
    $("opened-24h").textContent = String(day.opened || 0);
    var by = day.by_severity || {};
    var total = day.opened || 0;
    $("sevbar").innerHTML = ["critical", "major", "warning", "info"].map(function (sev) {
      var n = by[sev] || 0;
      if (!n) return "";
      return '<span class="seg sev-' + sev + '" data-grow="' + n + '" title="' + n + " " +
        sev + '">' + n + "</span>";
    }).join("") || '<span class="seg seg-none">none</span>';
    styleFromData($("sevbar"));
    $("sevbar-legend").innerHTML = ["critical", "major", "warning", "info"].map(function (sev) {
      return '<span class="lg sev-' + sev + '">' + sev + " " + (by[sev] || 0) + "</span>";
    }).join("");
    $("sevbar").setAttribute("aria-label", "Alerts raised in the last 24 hours: " + total);
    var noisy = day.noisiest_detectors || [];
    var max = noisy.length ? noisy[0].opened : 1;
    $("noisy").innerHTML = noisy.length ? noisy.map(function (d) {
      return '<li><span class="nd-name">' + esc(d.detector) + '</span><span class="nd-bar"><span data-width="' +
        Math.max(4, Math.round(100 * d.opened / max)) + '"></span></span><b>' + d.opened + "</b></li>";
    }).join("") : '<li class="empty">No alerts raised.</li>';
    styleFromData($("noisy"));
  }

  function trendValues(points, key, asOf, pick) {
    var bucket = 300;
    var n = DAY / bucket;
    var start = (asOf || Date.now() / 1000) - DAY;
    var values = new Array(n);
    for (var i = 0; i < n; i++) values[i] = null;
    points.forEach(function (p) {
      var idx = Math.floor((p.t - start) / bucket);
      if (idx >= 0 && idx < n) values[idx] = pick(p, key);
    });
    return values;
  }

  function renderGroups(s) {
    var byGroup = {};
    ((s && s.groups) || []).forEach(function (g) { byGroup[g.group] = g; });
    var asOf = s && s.as_of;
    $("groups").innerHTML = state.catalog.groups.map(function (g) {
      var d = byGroup[g.slug] || { open_alerts: 0, worst_severity: null, sources_reporting: 0,
        sources_expected: 0, sources_in_breach: 0, kpis: {}, trend: [] };
      var hasData = d.sources_expected > 0 || (d.trend || []).length > 0 || d.open_alerts > 0;
      var status = rag(d.worst_severity, d.sources_reporting, d.sources_expected,
        d.sources_in_breach, hasData);
      var kpis = g.kpis.slice(0, 3).map(function (k) {
        var v = d.kpis ? d.kpis[k.name] : undefined;
        return '<div class="kpi"><span class="kpi-label">' + esc(k.label) + '</span><span class="kpi-value">' +
          IOC.fmtNum(v) + (k.unit && v !== undefined ? ' <small>' + esc(k.unit) + "</small>" : "") +
          "</span></div>";
      }).join("");
      var first = g.kpis[0];
      var spark = first ? IOC.sparkline(trendValues(d.trend || [], first.name, asOf, function (p, k) {
        var v = p.kpis ? p.kpis[k] : undefined;
        return typeof v === "number" ? v : null;
      }), { width: 260, height: 40, label: first.label + ", last 24 hours" }) : "";
      var times = (typeof d.mtta_s === "number" || typeof d.mttr_s === "number")
        ? '<div class="g-times">MTTA ' + IOC.fmtDuration(d.mtta_s) + " · MTTR " +
          IOC.fmtDuration(d.mttr_s) + "</div>" : "";
      var alerts = d.open_alerts
        ? d.open_alerts + " open" + (d.worst_severity ? " · " + d.worst_severity : "")
        : "0 open";
      return '<article class="gcard rag-' + status + '" data-group="' + esc(g.slug) +
        '" data-rag="' + status + '">' +
        '<div class="g-band"><span class="rag-word">' + RAG_WORD[status] + '</span>' +
        '<span class="g-band-alerts">' + esc(alerts) + "</span></div>" +
        '<h3 class="g-name" title="' + esc(g.name) + '"><span class="g-num">' + g.number +
        "</span> " + esc(g.name) + "</h3>" +
        '<div class="g-kpis">' + kpis + "</div>" +
        '<div class="g-trend">' + spark + "</div>" +
        '<div class="g-foot"><span class="g-foot-trend">' + (first ? "24 h: " + esc(first.label) : "") +
        "</span>" + (d.sources_expected ? '<span class="g-foot-src">' + d.sources_reporting + "/" +
          d.sources_expected + " up</span>" : "") + "</div>" + times +
        "</article>";
    }).join("");
  }

  function renderDistricts(s) {
    var rows = {};
    state.catalog.districts.forEach(function (d) {
      rows[d.name] = { open: 0, worst: null, reporting: 0, expected: 0, breach: 0, seen: false };
    });
    state.alerts.forEach(function (a) {
      var r = rows[a.district];
      if (!r) return;
      r.open += 1;
      r.worst = IOC.worse(r.worst, a.severity);
      r.seen = true;
    });
    state.indicators.forEach(function (ind) {
      var r = rows[ind.district];
      if (!r) return;
      r.reporting += ind.sources_reporting;
      r.expected += ind.sources_expected;
      r.breach += ind.sources_in_breach;
      r.seen = true;
    });
    var fromServer = {};
    ((s && s.districts) || []).forEach(function (d) { fromServer[d.district] = d; });
    var asOf = s && s.as_of;
    $("districts").innerHTML = state.catalog.districts.map(function (d) {
      var r = rows[d.name];
      var srv = fromServer[d.name];
      if (srv) {  // the summary's row replaces what the snapshot gave
        r = { open: srv.open_alerts, worst: srv.worst_severity, reporting: srv.sources_reporting,
          expected: srv.sources_expected, breach: srv.sources_in_breach,
          seen: srv.sources_expected > 0 || srv.open_alerts > 0 || (srv.trend || []).length > 0 };
      }
      var status = rag(r.worst, r.reporting, r.expected, r.breach, r.seen);
      var points = ((srv && srv.trend) || []).map(function (p) {
        return { t: p.t, v: p.open_alerts };
      });
      var spark = IOC.sparkline(trendValues(points, "v", asOf, function (p) { return p.v; }),
        { width: 200, height: 34, label: "open alerts in " + d.name + ", last 24 hours" });
      var pct = r.expected ? Math.round(100 * r.reporting / r.expected) + " %" : "–";
      return '<tr class="rag-' + status + '" data-district="' + esc(d.name) + '" data-rag="' +
        status + '" data-from="' + (srv ? "summary" : "snapshot") + '"><td><span class="rag-word">' + RAG_WORD[status] + "</span> " + esc(d.name) +
        '</td><td title="' + (r.worst ? "worst: " + r.worst : "") + '">' +
        (r.worst ? '<span class="sev-dot sev-' + r.worst + '"></span>' : "") + r.open + "</td>" +
        "<td>" + r.breach + "</td><td>" + pct + "</td><td>" + spark + "</td></tr>";
    }).join("");
  }

  function showBanner(text, kind) {
    var el = $("banner");
    el.className = "banner " + (kind || "info");
    el.textContent = text;
    el.hidden = false;
  }

  /* --- start ------------------------------------------------------------------------------ */
  function start() {
    IOC.startClock($("clock"));
    state.token = IOC.token(false);
    IOC.loadCatalog().then(function (cat) {
      state.catalog = cat;
      render();
    }, function (err) { showBanner("Could not load the catalog: " + err.message, "error"); });
    IOC.account();
    refreshSummary();
    setInterval(refreshSummary, 60000);
    conn = new IOC.Connection({ token: state.token, subscribe: { summary: true, windows: false } }, {
      onStatus: function (st, detail) {
        IOC.showStatus($("conn"), st, detail);
        document.body.dataset.conn = st;
        if (st === "unauthorized") {
          if (!state.token) { IOC.toLogin(); return; }
          showBanner("The server refused this token.", "error");
        }
        if (st === "connected") $("banner").hidden = true;
        fresh.status(st);
      },
      onHeartbeat: function (msg) { fresh.server(msg); },
      onSnapshot: onSnapshot,
      onDelta: onDelta,
      onSummary: setSummary
    });
    window.IOC_SUMMARY = { state: state, conn: conn };
    conn.connect();
  }

  start();
})();
