/* The leadership summary: every service group and every district with its status and a trend
 * over the last 24 hours that have data, open alerts by severity, MTTA and MTTR (city-wide and
 * per group), the noisiest detectors. Read-only. Data: the `summary` frame / GET /api/summary
 * (groups, districts, their trends and their statuses: one rule on the server,
 * dashboards/status.py, which the wall shows too), and the snapshot's indicators and alerts for
 * the district rows' counts until the first summary arrives (docs/protocol.md v1). Every word
 * comes from the reader's message catalog (IOC.t, i18n.js). */
(function () {
  "use strict";

  var IOC = window.IOC;
  var esc = IOC.esc;
  var t = IOC.t;
  var $ = function (id) { return document.getElementById(id); };
  var DAY = 86400;
  var BUCKET = 300;

  var state = {
    catalog: null,
    summary: null,
    asOf: null,                // the summary's as_of (epoch s)
    alerts: new Map(),
    indicators: new Map(),     // "group|district" -> latest GroupIndicator
    token: null
  };
  var conn = null;
  var queued = false;
  var fresh = new IOC.Freshness($("stale"));

  /* --- statuses: the server's (dashboards/status.py), shown with a colour ----------------- */
  var RAG = { critical: "red", major: "red", warning: "amber", ok: "green", starting: "starting",
    no_data: "none", pending: "none" };
  function statusWord(status) { return t("status." + status); }
  function reasonText(reason) {
    return reason && reason.key ? t(reason.key, reason.params || {}) : "";
  }

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
      if (err.status === 401) showBanner(t("error.token"), "error");
      state.summaryFailed = true;  // the cards show without it (statuses pending)
      render();
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
    // the cards wait for the first summary (their statuses and figures come with it)
    if (state.catalog && (s || state.summaryFailed)) {
      renderGroups(s);
      renderDistricts(s);
    }
  }

  function renderHeadline(s) {
    state.asOf = s.as_of || null;
    renderAsOf();
    var open = s.open_alerts || { total: 0, by_severity: {} };
    $("open-total").textContent = String(open.total);
    $("open-sev").innerHTML = ["critical", "major", "warning", "info"].map(function (sev) {
      var n = (open.by_severity || {})[sev] || 0;
      return '<span class="sev-count sev-' + sev + (n ? "" : " zero") + '" data-severity="' +
        sev + '"><b>' + n + "</b> " + esc(t("severity." + sev)) + "</span>";
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
        esc(t("severity." + sev)) + '">' + n + "</span>";
    }).join("") || '<span class="seg seg-none">' + esc(t("sum.raised.none")) + "</span>";
    styleFromData($("sevbar"));
    $("sevbar-legend").innerHTML = ["critical", "major", "warning", "info"].map(function (sev) {
      return '<span class="lg sev-' + sev + '">' + esc(t("severity." + sev)) + " " + (by[sev] || 0) + "</span>";
    }).join("");
    $("sevbar").setAttribute("aria-label", t("sum.raised") + " " + total);
    var noisy = day.noisiest_detectors || [];
    var max = noisy.length ? noisy[0].opened : 1;
    $("noisy").innerHTML = noisy.length ? noisy.map(function (d) {
      return '<li><span class="nd-name" title="' + esc(d.detector) + '">' + esc(d.detector) +
        '</span><span class="nd-bar"><span data-width="' +
        Math.max(4, Math.round(100 * d.opened / max)) + '"></span></span><b>' + d.opened + "</b></li>";
    }).join("") : '<li class="empty">' + esc(t("sum.noisy.none")) + "</li>";
    styleFromData($("noisy"));
  }

  /* "as of 14:05:10 · 12 s ago": the newest record the summary is based on, and how old it is
   * now (ticks every second, so a page whose data stopped shows it). */
  function renderAsOf() {
    var el = $("as-of");
    if (!state.asOf) { el.textContent = t("sum.as_of", { time: "–" }); return; }
    var age = Math.max(0, Date.now() / 1000 - state.asOf);
    el.textContent = t("sum.as_of", { time: IOC.fmtDateTime(state.asOf) }) + " · " +
      IOC.fmtDuration(age);
    el.dataset.asOf = String(state.asOf);
  }

  /* A trend over the hours that have data: from the first 5-minute bucket with a point (at
   * most 24 hours back) to the summary's as-of, so a few hours of data fill the chart instead
   * of a thin mark at its right edge. values: one per bucket (null: no point). */
  function trendSeries(points, asOf, pick) {
    var end = asOf || Date.now() / 1000;
    var floor = end - DAY;
    var first = null;
    points.forEach(function (p) {
      if (p.t >= floor && p.t <= end && (first === null || p.t < first)) first = p.t;
    });
    if (first === null) return { values: [], start: null, end: end };
    var start = Math.floor(first / BUCKET) * BUCKET;
    var n = Math.max(1, Math.floor((end - start) / BUCKET) + 1);
    var values = new Array(n);
    for (var i = 0; i < n; i++) values[i] = null;
    points.forEach(function (p) {
      var idx = Math.floor((p.t - start) / BUCKET);
      if (idx >= 0 && idx < n) values[idx] = pick(p);
    });
    return { values: values, start: start, end: end };
  }

  /* The chart of a trend with its time span under it ("Mon 09:00–Mon 15:35, 6 h with data"). */
  function trendChart(series, opts) {
    if (!series.values.length) {
      return IOC.sparkline([], opts) + '<div class="trend-axis"><span>' + esc(t("sum.trend.none")) +
        "</span></div>";
    }
    var hours = Math.max(1, Math.round((series.end - series.start) / 3600));
    return IOC.sparkline(series.values, opts) + '<div class="trend-axis"><span>' +
      esc(IOC.fmtHour(series.start)) + "</span><span>" + esc(t("sum.trend.hours", { hours: hours })) +
      "</span><span>" +
      esc(IOC.fmtHour(series.end)) + "</span></div>";
  }

  function renderGroups(s) {
    var byGroup = {};
    ((s && s.groups) || []).forEach(function (g) { byGroup[g.group] = g; });
    var asOf = s && s.as_of;
    $("groups").innerHTML = state.catalog.groups.map(function (g) {
      var d = byGroup[g.slug] || { open_alerts: 0, worst_severity: null, sources_reporting: 0,
        sources_expected: 0, sources_in_breach: 0, kpis: {}, trend: [], status: s ? "no_data" : "pending" };
      var status = d.status || "pending";
      var rag = RAG[status] || "none";
      var name = state.catalog.groupName(g.slug);
      var kpis = g.kpis.slice(0, 3).map(function (k) {
        var v = d.kpis ? d.kpis[k.name] : undefined;
        var label = state.catalog.kpiLabel(g.slug, k.name);
        return '<div class="kpi"><span class="kpi-label">' + esc(label) + '</span><span class="kpi-value">' +
          IOC.fmtNum(v) + (k.unit && v !== undefined ? ' <small>' + esc(k.unit) + "</small>" : "") +
          "</span></div>";
      }).join("");
      var first = g.kpis[0];
      var firstLabel = first ? state.catalog.kpiLabel(g.slug, first.name) : "";
      var spark = first ? trendChart(trendSeries(d.trend || [], asOf, function (p) {
        var v = p.kpis ? p.kpis[first.name] : undefined;
        return typeof v === "number" ? v : null;
      }), { width: 260, height: 44, label: firstLabel }) : "";
      var times = (typeof d.mtta_s === "number" || typeof d.mttr_s === "number")
        ? '<div class="g-times">' + esc(t("sum.mtta_mttr", { mtta: IOC.fmtDuration(d.mtta_s),
          mttr: IOC.fmtDuration(d.mttr_s) })) + "</div>" : "";
      var alerts = t("sum.open_n", { n: d.open_alerts || 0 }) +
        (d.worst_severity ? " · " + t("severity." + d.worst_severity) : "");
      return '<article class="gcard rag-' + rag + '" data-group="' + esc(g.slug) +
        '" data-rag="' + rag + '" data-status="' + status + '" title="' + esc(reasonText(d.reason)) + '">' +
        '<div class="g-band"><span class="rag-word">' + esc(statusWord(status)) + '</span>' +
        '<span class="g-band-alerts">' + esc(alerts) + "</span></div>" +
        '<h3 class="g-name" title="' + esc(name) + '"><span class="g-num">' + g.number +
        "</span> " + esc(name) + "</h3>" +
        '<div class="g-kpis">' + kpis + "</div>" +
        '<div class="g-trend">' + spark + "</div>" +
        '<div class="g-foot"><span class="g-foot-trend">' + (first ? esc(firstLabel) : "") +
        "</span>" + (d.sources_expected ? '<span class="g-foot-src">' + esc(t("sum.up",
          { reporting: d.sources_reporting, expected: d.sources_expected })) + "</span>" : "") +
        "</div>" + times + "</article>";
    }).join("");
  }

  function renderDistricts(s) {
    var rows = {};
    state.catalog.districts.forEach(function (d) {
      rows[d.name] = { open: 0, worst: null, reporting: 0, expected: 0, breach: 0 };
    });
    state.alerts.forEach(function (a) {
      var r = rows[a.district];
      if (!r) return;
      r.open += 1;
      r.worst = IOC.worse(r.worst, a.severity);
    });
    state.indicators.forEach(function (ind) {
      var r = rows[ind.district];
      if (!r) return;
      r.reporting += ind.sources_reporting;
      r.expected += ind.sources_expected;
      r.breach += ind.sources_in_breach;
    });
    var fromServer = {};
    ((s && s.districts) || []).forEach(function (d) { fromServer[d.district] = d; });
    var asOf = s && s.as_of;
    $("districts").innerHTML = state.catalog.districts.map(function (d) {
      var r = rows[d.name];
      var srv = fromServer[d.name];
      var status = srv ? (srv.status || "no_data") : "pending";
      if (srv) {  // the summary's row replaces what the snapshot gave
        r = { open: srv.open_alerts, worst: srv.worst_severity, reporting: srv.sources_reporting,
          expected: srv.sources_expected, breach: srv.sources_in_breach };
      }
      var rag = RAG[status] || "none";
      var name = IOC.i18n.name("district", d.name);
      var points = ((srv && srv.trend) || []).map(function (p) {
        return { t: p.t, v: p.open_alerts };
      });
      var spark = trendChart(trendSeries(points, asOf, function (p) { return p.v; }),
        { width: 300, height: 44, label: t("sum.open_alerts_in", { district: name }) });
      var pct = r.expected ? Math.round(100 * r.reporting / r.expected) + " %" : "–";
      return '<tr class="rag-' + rag + '" data-district="' + esc(d.name) + '" data-rag="' +
        rag + '" data-status="' + status + '" data-from="' + (srv ? "summary" : "snapshot") +
        '" title="' + esc(srv ? reasonText(srv.reason) : "") + '"><td><span class="rag-word">' +
        esc(statusWord(status)) + '</span> <span class="d-name">' + esc(name) + "</span></td>" +
        '<td title="' + (r.worst ? esc(t("sum.worst", { severity: t("severity." + r.worst) })) : "") + '">' +
        (r.worst ? '<span class="sev-dot sev-' + r.worst + '"></span>' : "") + r.open + "</td>" +
        "<td>" + r.breach + "</td><td>" + pct + '</td><td class="d-trend">' + spark + "</td></tr>";
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
    setInterval(renderAsOf, 1000);
    state.token = IOC.token();
    IOC.loadCatalog().then(function (cat) {
      state.catalog = cat;
      render();
    }, function (err) { showBanner(t("error.catalog", { reason: err.message }), "error"); });
    IOC.account();
    refreshSummary();
    setInterval(refreshSummary, 60000);
    conn = new IOC.Connection({ token: state.token, subscribe: { summary: true, windows: false } }, {
      onStatus: function (st, detail) {
        IOC.showStatus($("conn"), st, detail);
        document.body.dataset.conn = st;
        if (st === "unauthorized") {
          if (!state.token) { IOC.toLogin(); return; }
          showBanner(t("error.token"), "error");
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

  IOC.i18n.ready.then(start);
})();
