/* The operators' wall: live alert board, group tiles, incidents, sensor health, alert detail,
 * commands (operator role only), audible cue for critical alerts, kiosk mode.
 * Speaks docs/protocol.md v1 through IOC.Connection (common.js). Every word comes from the
 * reader's message catalog (IOC.t, i18n.js); group and district statuses come from the
 * server's summary (dashboards/status.py), never computed here. */
(function () {
  "use strict";

  var IOC = window.IOC;
  var esc = IOC.esc;
  var t = IOC.t;
  var $ = function (id) { return document.getElementById(id); };
  var STATUS_RANK = { firing: 0, acknowledged: 1, silenced: 2, resolved: 3 };
  // changes a person makes; their record's updated_at is when they acted
  var ACTED = { acknowledged: true, silenced: true, resolved: true, unsilenced: true };
  var NEW_FOR_MS = 15000;

  var state = {
    catalog: null,
    alerts: new Map(),       // alert_id -> latest Alert (open: firing/acknowledged/silenced)
    incidents: new Map(),    // incident_id -> latest open Incident
    silences: new Map(),     // silence_id -> silence in force (lifted ones leave)
    unsilencing: new Set(),  // silence ids with an unsilence sent, effect not seen yet
    indicators: new Map(),   // "group|district" -> latest GroupIndicator
    summary: null,           // the server's summary: the statuses of groups and districts
    receivedAt: new Map(),   // alert_id -> when it (re)opened here, for the "new" highlight
    actedAt: new Map(),      // alert_id -> {status, ts, user, name, reason}: who put it there
    pending: new Map(),      // alert_id -> {action, at}: a command sent, effect not seen yet
    selected: null,          // alert_id in the detail panel
    selectedRecord: null,    // its last record (kept after it resolves)
    incidentFocus: null,     // incident_id whose members the board shows
    canCommand: false,
    role: null,
    ready: true,
    filters: { group: "", district: "", severity: "", category: "", status: "" }
  };
  var conn = null;
  var renderQueued = false;
  var fresh = new IOC.Freshness($("stale"));

  /* --- URL options: ?kiosk=1&group=flooding&district=Hai%20Chau&severity=major ... ----- */
  var query = new URLSearchParams(window.location.search);
  ["group", "district", "severity", "category", "status"].forEach(function (k) {
    if (query.get(k)) state.filters[k] = query.get(k);
  });
  var kioskFromUrl = query.get("kiosk") === "1" || query.get("kiosk") === "true";

  /* --- sound ----------------------------------------------------------------------------- */
  var sound = { ctx: null, on: localStorage.getItem("ioc.sound") !== "off", beeps: 0 };

  function audioContext() {
    if (!sound.ctx) {
      var AC = window.AudioContext || window.webkitAudioContext;
      if (!AC) return null;
      try { sound.ctx = new AC(); } catch (e) { return null; }
    }
    if (sound.ctx.state === "suspended") {
      sound.ctx.resume().then(showSoundButton, showSoundButton);
    }
    return sound.ctx;
  }

  function showSoundButton() {
    var btn = $("btn-sound");
    var blocked = sound.on && (!sound.ctx || sound.ctx.state !== "running");
    // blocked (audio not unlocked yet) reads "on" too, so the label keeps its width when the
    // first click unlocks it (the buttons beside it do not move under the pointer)
    btn.textContent = t(!sound.on ? "wall.sound.off" : "wall.sound.on");
    btn.title = t(blocked ? "wall.sound.blocked" : "wall.sound.title");
    btn.dataset.state = !sound.on ? "off" : blocked ? "blocked" : "on";
  }

  /* Three short tones; browsers play them only after a user gesture has unlocked audio. */
  function beep() {
    sound.beeps += 1;
    document.body.dataset.beeps = String(sound.beeps);
    if (!sound.on) return;
    var ctx = audioContext();
    if (!ctx || ctx.state !== "running") return;
    var t0 = ctx.currentTime + 0.02;
    for (var i = 0; i < 3; i++) {
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      osc.type = "square";
      osc.frequency.value = i === 1 ? 660 : 880;
      var t = t0 + i * 0.22;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.25, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.16);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t);
      osc.stop(t + 0.18);
    }
  }

  /* --- kiosk ------------------------------------------------------------------------------ */
  function setKiosk(on, withFullscreen) {
    document.body.classList.toggle("kiosk", on);
    document.documentElement.classList.toggle("kiosk", on);
    $("btn-kiosk").textContent = t(on ? "wall.kiosk.exit" : "wall.kiosk");
    var root = document.documentElement;
    if (on && withFullscreen && root.requestFullscreen && !document.fullscreenElement) {
      root.requestFullscreen().catch(function () { /* not allowed here: kiosk without it */ });
    }
    if (!on && document.fullscreenElement && document.exitFullscreen) {
      document.exitFullscreen().catch(function () { /* already left */ });
    }
  }

  document.addEventListener("fullscreenchange", function () {
    if (!document.fullscreenElement && document.body.classList.contains("kiosk") &&
        !kioskFromUrl) {
      setKiosk(false, false);
    }
  });

  /* --- state updates --------------------------------------------------------------------- */
  function applyAlert(alert, live) {
    var prev = state.alerts.get(alert.alert_id);
    if (prev && prev.version >= alert.version) return;
    if (state.selected === alert.alert_id) state.selectedRecord = alert;
    var pending = state.pending.get(alert.alert_id);
    if (pending && (alert.change === pendingChange(pending.action) || alert.status === "resolved")) {
      state.pending.delete(alert.alert_id);
    }
    if (alert.status === "resolved") {
      state.alerts.delete(alert.alert_id);
      state.receivedAt.delete(alert.alert_id);
      return;
    }
    state.alerts.set(alert.alert_id, alert);
    if (ACTED[alert.change] && alert.user) {
      state.actedAt.set(alert.alert_id, { status: alert.status, ts: alert.updated_at,
        user: alert.user, name: alert.display_name, reason: alert.reason, change: alert.change });
    }
    if (!live) return;
    var opened = !prev || alert.change === "opened" || alert.change === "reopened";
    if (opened) state.receivedAt.set(alert.alert_id, Date.now());
    var nowCritical = alert.severity === "critical" && alert.status === "firing";
    var wasCritical = prev && prev.severity === "critical" && prev.status === "firing";
    if (nowCritical && !wasCritical) {
      beep();
      flash(alert);
    }
  }

  function pendingChange(action) {
    return { ack: "acknowledged", resolve: "resolved", note: "note", silence: "silenced" }[action];
  }

  function applyIncident(inc) {
    var prev = state.incidents.get(inc.incident_id);
    if (prev && prev.version >= inc.version) return;
    if (inc.status === "closed") {
      state.incidents.delete(inc.incident_id);
      if (state.incidentFocus === inc.incident_id) state.incidentFocus = null;
    } else {
      state.incidents.set(inc.incident_id, inc);
    }
  }

  function applyIndicator(ind) {
    var key = ind.group + "|" + ind.district;
    var prev = state.indicators.get(key);
    if (prev && prev.end > ind.end) return;
    state.indicators.set(key, ind);
  }

  function loadSnapshot(msg) {
    state.alerts.clear();
    state.incidents.clear();
    state.indicators.clear();
    state.silences.clear();
    (msg.silences || []).forEach(applySilence);
    (msg.alerts || []).forEach(function (a) { applyAlert(a, false); });
    (msg.incidents || []).forEach(applyIncident);
    (msg.indicators || []).forEach(applyIndicator);
    state.ready = msg.ready !== false;
    document.body.dataset.ready = String(state.ready);  // false: the server is still loading
    fresh.server(msg);
    renderUnregistered(msg.unregistered || null);
    document.body.dataset.snapshots = String(Number(document.body.dataset.snapshots || 0) + 1);
    render();
  }

  function onDelta(msg) {
    var d = msg.data;
    if (msg.kind === "alert") { applyAlert(d, true); refreshSummarySoon(); }
    else if (msg.kind === "incident") applyIncident(d);
    else if (msg.kind === "silence") applySilence(d);
    else if (msg.kind === "indicator") { applyIndicator(d); fresh.indicator(); }
    document.body.dataset.seq = String(msg.seq);
    render();
  }

  /* --- silences: the list in force, each with an Unsilence button for operators ---------- */
  function applySilence(s) {
    if (s.lifted_at != null) {
      state.silences.delete(s.silence_id);
      state.unsilencing.delete(s.silence_id);
    } else {
      state.silences.set(s.silence_id, s);
    }
  }

  function renderSilences() {
    var list = Array.from(state.silences.values()).sort(function (a, b) {
      return a.until - b.until || (a.silence_id < b.silence_id ? -1 : 1);
    });
    $("silences").hidden = list.length === 0;
    $("sil-count").textContent = String(list.length);
    $("sil-list").innerHTML = list.map(function (s) {
      var what = Object.keys(s.matchers).sort().map(function (k) {
        var v = s.matchers[k];
        var shown = k === "group" || k === "district" || k === "metric" || k === "source"
          ? IOC.i18n.name(k, v) : v;
        return esc(k) + " = <b>" + esc(shown) + "</b>";
      }).join(", ");
      var busy = state.unsilencing.has(s.silence_id);
      return '<li class="silence" data-silence-id="' + esc(s.silence_id) + '">' +
        '<div class="s-what">' + what + "</div>" +
        '<div class="s-meta">' + esc(t("wall.silence.until", { time: IOC.fmtDateTime(s.until) })) +
        " · " + esc(t("wall.silence.by", { name: IOC.who(s.user, s.display_name) })) +
        (s.reason ? " · " + esc(s.reason) : "") + "</div>" +
        (state.canCommand ? '<button type="button" class="act act-unsilence" data-unsilence="' +
          esc(s.silence_id) + '"' + (busy ? " disabled" : "") + ">" + esc(t("wall.unsilence")) +
          "</button>" : "") +
        "</li>";
    }).join("");
  }

  function sendUnsilence(silenceId) {
    if (!conn || !state.canCommand || state.unsilencing.has(silenceId)) return;
    state.unsilencing.add(silenceId);
    render();
    conn.command({ action: "unsilence", silence_id: silenceId }).then(function (reply) {
      document.body.dataset.lastCommand = reply.command_id || "";
      toast(t("wall.unsilence.sent"), "ok");
    }, function (err) {
      state.unsilencing.delete(silenceId);
      toast(t("wall.unsilence.failed", { reason: err.reason || err.code || "?" }), "error");
      render();
    });
  }

  /* Engineers: sources the catalog does not list, per group (the server sends them to the
   * engineer role only; other roles never get the field or the frame). */
  function renderUnregistered(view) {
    var panel = $("unregistered");
    if (!view) { panel.hidden = true; return; }
    panel.hidden = false;
    $("unreg-count").textContent = String(view.total) + (view.groups.some(function (g) {
      return g.more;
    }) ? "+" : "");
    $("unreg-list").innerHTML = view.groups.length ? view.groups.map(function (g) {
      var name = state.catalog ? state.catalog.groupName(g.group) : g.group;
      var rest = g.count - g.sources.length;
      return '<li class="unreg-group" data-group="' + esc(g.group) + '" data-count="' +
        g.count + '"><b>' + esc(name) + "</b> <span class=\"count\">" + g.count +
        (g.more ? "+" : "") + "</span> " + g.sources.map(function (id) {
          return '<code class="unreg-id">' + esc(id) + "</code>";
        }).join(" ") + (rest > 0 ? " <span class=\"unreg-more\">" + esc(t("wall.unreg.more", { n: rest })) +
          "</span>" : "") +
        "</li>";
    }).join("") : '<li class="empty">' + esc(t("wall.unreg.none")) + "</li>";
  }

  /* --- filters --------------------------------------------------------------------------- */
  function passes(alert, ignoreGroup) {
    var f = state.filters;
    if (!ignoreGroup && f.group && alert.group !== f.group) return false;
    if (f.district && alert.district !== f.district) return false;
    if (f.severity && IOC.SEV_RANK[alert.severity] < IOC.SEV_RANK[f.severity]) return false;
    if (f.category && alert.category !== f.category) return false;
    if (f.status && alert.status !== f.status) return false;
    if (!ignoreGroup && state.incidentFocus) {
      var inc = state.incidents.get(state.incidentFocus);
      if (inc && inc.alert_ids.indexOf(alert.alert_id) < 0 &&
          alert.incident_id !== state.incidentFocus) return false;
    }
    return true;
  }

  function byUrgency(a, b) {
    return (IOC.SEV_RANK[b.severity] - IOC.SEV_RANK[a.severity]) ||
      (STATUS_RANK[a.status] - STATUS_RANK[b.status]) ||
      (b.first_seen - a.first_seen) ||
      (a.alert_id < b.alert_id ? -1 : 1);
  }

  /* --- rendering ------------------------------------------------------------------------- */
  function render() {
    if (renderQueued) return;
    renderQueued = true;
    window.requestAnimationFrame(function () {
      renderQueued = false;
      renderNow();
    });
  }

  function renderNow() {
    var all = Array.from(state.alerts.values());
    var shown = all.filter(function (a) { return passes(a, false); }).sort(byUrgency);
    var city = shown.filter(function (a) { return a.category !== "sensor_health"; });
    var health = shown.filter(function (a) { return a.category === "sensor_health"; });
    $("board").innerHTML = city.map(alertRow).join("");
    $("health").innerHTML = health.map(alertRow).join("");
    $("board-count").textContent = String(city.length);
    $("health-count").textContent = String(health.length);
    $("board-empty").hidden = city.length > 0;
    $("health-empty").hidden = health.length > 0;
    renderSeverityCounts(all);
    renderIncidents();
    renderSilences();
    renderTiles(all);
    renderBanner();
    renderFilterNote(all.length, shown.length);
    if (state.selected) renderDetail();
  }

  function renderSeverityCounts(all) {
    var counts = { info: 0, warning: 0, major: 0, critical: 0 };
    all.forEach(function (a) {
      if (a.category !== "sensor_health" && a.status !== "silenced") counts[a.severity] += 1;
    });
    $("sev-counts").innerHTML = ["critical", "major", "warning", "info"].map(function (s) {
      return '<span class="sev-count sev-' + s + (counts[s] ? "" : " zero") +
        '" data-severity="' + s + '"><b>' + counts[s] + "</b> " + esc(t("severity." + s)) + "</span>";
    }).join("");
  }

  // The open incident an alert belongs to: the one it names, else the one listing it as a
  // member (workers link alerts by listing them in the incident record).
  function incidentOf(alert) {
    if (alert.incident_id && state.incidents.has(alert.incident_id)) {
      return state.incidents.get(alert.incident_id);
    }
    var found = null;
    state.incidents.forEach(function (inc) {
      if (!found && inc.alert_ids.indexOf(alert.alert_id) >= 0) found = inc;
    });
    return found;
  }

  function unitOf(alert) {
    return state.catalog ? state.catalog.unit(alert.group, alert.metric) : "";
  }

  function groupName(slug) {
    return IOC.i18n.name("group", slug);
  }

  /* An alert's title in the reader's language (its English title for older records). */
  function titleOf(a) {
    return a.title_parts ? IOC.i18n.render(a.title_parts) : a.title;
  }

  /* Lines drawn on an alert's sparkline, in the metric's units. `evidence.threshold` is the
   * detector's raw-statistic threshold (a z-score, a CUSUM sum...), not a value, so the value
   * limits come from the catalog's breach limits (or the physical range's detail). For the
   * static threshold detector `evidence.baseline` is the limit itself. */
  function valueLines(a) {
    var ev = a.evidence || {};
    var limits = [];
    var g = state.catalog && state.catalog.bySlug[a.group];
    var m = g && g.metricsByName[a.metric];
    if (ev.detector === "physical_range" && ev.detail) {
      limits = [ev.detail.low, ev.detail.high];
    } else if (m) {
      limits = [m.breach_above, m.breach_below];
    }
    limits = limits.filter(function (v) { return typeof v === "number" && isFinite(v); });
    var baseline = ev.baseline;
    if (ev.detector === "physical_range" ||
        (ev.detector === "threshold" && limits.indexOf(baseline) >= 0)) {
      baseline = null;  // the "baseline" of these detectors is a limit or a range's middle
    }
    return { baseline: baseline, limits: limits };
  }

  /* "acknowledged by Lan Nguyen at 10:32: crew sent" for the person behind an alert's status
   * ("" when no person put it there: the sensors). A record names the person who owns its
   * status, but for a note, which names its author: the owner then comes from the change
   * this page saw (with its time), else goes unnamed. */
  function statusTrail(a) {
    var acted = state.actedAt.get(a.alert_id);
    if (acted && acted.status === a.status) {
      var verb = acted.change === "unsilenced" ? "unsilenced" : acted.status;
      return IOC.trail(verb, acted.user, acted.name, acted.ts, acted.reason);
    }
    if (!a.user || a.change === "note") return "";
    return IOC.trail(a.status, a.user, a.display_name, null, a.reason);
  }

  /* The name of whoever put the alert in its status ("" when not known). */
  function ownerName(a) {
    var acted = state.actedAt.get(a.alert_id);
    if (acted && acted.status === a.status) return IOC.who(acted.user, acted.name);
    return a.change === "note" ? "" : IOC.who(a.user, a.display_name);
  }

  function alertRow(a) {
    var ev = a.evidence || {};
    var unit = unitOf(a);
    var lines = valueLines(a);
    var isNew = (Date.now() - (state.receivedAt.get(a.alert_id) || 0)) < NEW_FOR_MS;
    var pending = state.pending.get(a.alert_id);
    var statusText = a.status === "acknowledged" && ownerName(a)
      ? t("wall.acked_by", { name: ownerName(a) }) : t("alert.status." + a.status);
    var actions = "";
    if (state.canCommand) {
      if (a.status === "firing") {
        actions += '<button type="button" class="act act-ack" data-action="ack" data-alert-id="' +
          esc(a.alert_id) + '"' + (pending ? " disabled" : "") + ">" + esc(t("wall.ack")) + "</button>";
      }
      actions += '<button type="button" class="act act-resolve" data-action="resolve" ' +
        'data-alert-id="' + esc(a.alert_id) + '"' + (pending ? " disabled" : "") +
        ">" + esc(t("wall.resolve")) + "</button>";
    }
    return '<li class="alert sev-' + a.severity + " status-" + a.status + (isNew ? " new" : "") +
      (state.selected === a.alert_id ? " selected" : "") + '" data-alert-id="' +
      esc(a.alert_id) + '" data-status="' + a.status + '" data-severity="' + a.severity +
      '" data-group="' + esc(a.group) + '" tabindex="0">' +
      '<span class="sev-badge">' + esc(t("severity." + a.severity)) + "</span>" +
      '<div class="a-main"><div class="a-title" title="' + esc(titleOf(a)) + '">' +
      esc(titleOf(a)) + "</div>" +
      '<div class="a-meta">' + esc(groupName(a.group)) + " · " +
      esc(IOC.i18n.name("district", a.district)) + " · " + esc(IOC.i18n.sourceName(a.source)) +
      (incidentOf(a) ? ' · <span class="chip chip-incident">' + esc(t("wall.chip.incident")) +
        "</span>" : "") +
      "</div></div>" +
      '<div class="a-value"><b>' + IOC.fmtNum(ev.value) + "</b> " + esc(unit) +
      (typeof lines.baseline === "number" ? "<small>" + esc(t("wall.value.baseline",
        { value: IOC.fmtNum(lines.baseline) })) + "</small>" : lines.limits.length ? "<small>" +
        esc(t("wall.value.limit", { value: lines.limits.map(IOC.fmtNum).join(" / ") })) +
        "</small>" : "") + "</div>" +
      '<div class="a-spark">' + IOC.sparkline(ev.recent || [], {
        width: 140, height: 40, baseline: lines.baseline, thresholds: lines.limits,
        label: t("wall.spark.label", { metric: IOC.i18n.name("metric", a.metric) }) }) + "</div>" +
      '<div class="a-status">' + esc(statusText) +
      (pending ? '<small class="pending">' + esc(t("wall.sent", { action: label(pending.action) })) +
        "</small>" : "") +
      (a.notes && a.notes.length ? "<small>" + esc(a.notes.length > 1
        ? t("wall.notes_n", { n: a.notes.length }) : t("wall.note_1")) + "</small>" : "") + "</div>" +
      '<div class="a-time">' + IOC.fmtTime(a.first_seen) +
      (a.count > 1 ? "<small>×" + a.count + "</small>" : "") + "</div>" +
      (actions ? '<div class="a-actions control">' + actions + "</div>" : "") +
      "</li>";
  }

  function renderIncidents() {
    var list = Array.from(state.incidents.values()).sort(function (a, b) {
      return (IOC.SEV_RANK[b.severity] - IOC.SEV_RANK[a.severity]) || (b.first_seen - a.first_seen);
    });
    $("incidents").innerHTML = list.map(function (inc) {
      var names = inc.groups.map(groupName);
      return '<li class="incident sev-' + inc.severity +
        (state.incidentFocus === inc.incident_id ? " focused" : "") +
        '" data-incident-id="' + esc(inc.incident_id) + '" tabindex="0" role="button" ' +
        'title="' + esc(t("wall.inc.title")) + '">' +
        '<span class="sev-badge">' + esc(t("severity." + inc.severity)) + "</span>" +
        '<div class="i-main"><div class="i-title">' + esc(incidentTitle(inc)) + "</div>" +
        '<div class="i-meta">' + esc(IOC.i18n.name("district", inc.district)) + " · " +
        esc(t("wall.inc.meta", { n: inc.alert_ids.length, time: IOC.fmtTime(inc.first_seen) })) +
        "</div>" +
        '<div class="i-groups">' + names.map(function (n) {
          return '<span class="chip">' + esc(n) + "</span>";
        }).join("") + "</div></div></li>";
    }).join("");
    $("inc-count").textContent = String(list.length);
    $("inc-empty").hidden = list.length > 0;
  }

  /* An incident's title: its district and its groups, in the reader's language. */
  function incidentTitle(inc) {
    return IOC.i18n.name("district", inc.district) + ": " + inc.groups.map(groupName).join(" + ");
  }

  /* A group's status as the server judged it (dashboards/status.py): of the district the
   * filter names, else of the whole group; "pending" until the first summary arrives. */
  function groupStatus(slug) {
    var s = state.summary;
    if (!s) return "pending";
    var g = null;
    (s.groups || []).forEach(function (x) { if (x.group === slug) g = x; });
    if (!g) return "no_data";
    if (state.filters.district) return (g.by_district || {})[state.filters.district] || "no_data";
    return g.status || "no_data";
  }

  function setSummary(s) {
    state.summary = s;
    document.body.dataset.summaries = String(Number(document.body.dataset.summaries || 0) + 1);
    render();
  }

  /* A change of the open alerts changes statuses: ask the server for them again soon rather
   * than wait for its next periodic summary (one request per burst of changes). */
  var summaryTimer = null;
  function refreshSummarySoon() {
    if (summaryTimer) return;
    summaryTimer = setTimeout(function () {
      summaryTimer = null;
      IOC.fetchJSON("/api/summary", conn && conn.options.token).then(setSummary,
        function () { /* the periodic summary frame still comes */ });
    }, 400);
  }

  function renderTiles(all) {
    if (!state.catalog) return;
    var per = {};
    state.catalog.groups.forEach(function (g) {
      per[g.slug] = { worst: null, city: 0, health: 0, reporting: 0, expected: 0, incident: false };
    });
    all.forEach(function (a) {
      var c = per[a.group];
      if (!c || !passes(a, true) || a.status === "silenced") return;
      if (a.category === "sensor_health") c.health += 1; else c.city += 1;
    });
    state.indicators.forEach(function (ind) {
      var c = per[ind.group];
      if (!c || (state.filters.district && ind.district !== state.filters.district)) return;
      c.reporting += ind.sources_reporting;
      c.expected += ind.sources_expected;
    });
    state.incidents.forEach(function (inc) {
      inc.groups.forEach(function (g) { if (per[g]) per[g].incident = true; });
    });
    $("tiles").innerHTML = state.catalog.groups.map(function (g) {
      var c = per[g.slug];
      var st = groupStatus(g.slug);
      var name = groupName(g.slug);
      var counts = c.city ? t("wall.tile.open", { n: c.city }) : t("wall.tile.none");
      var src = c.expected ? t("wall.tile.reporting", { reporting: c.reporting, expected: c.expected }) : "";
      return '<button type="button" class="tile state-' + st +
        (state.filters.group === g.slug ? " active" : "") + '" data-group="' + esc(g.slug) +
        '" data-state="' + st + '" data-open="' + c.city + '" title="' + esc(name) +
        (src ? " · " + esc(src) : "") + '">' +
        '<span class="t-num">' + g.number + "</span>" +
        '<span class="t-name">' + esc(name) + "</span>" +
        '<span class="t-state">' + esc(t("status." + st)) + "</span>" +
        '<span class="t-counts">' + esc(counts) +
        (c.health ? ' · <span class="t-health">' + esc(t("wall.tile.sensor", { n: c.health })) + "</span>" : "") +
        (c.incident ? ' · <span class="t-inc">' + esc(t("wall.chip.incident")) + "</span>" : "") + "</span>" +
        (src ? '<span class="t-src">' + esc(src) + "</span>" : "") +
        "</button>";
    }).join("");
  }

  function renderBanner() {
    var el = $("banner");
    if (!state.ready) {
      el.hidden = false;
      el.className = "banner info";
      el.textContent = t("wall.loading");
    } else if (el.dataset.flash && Date.now() < Number(el.dataset.flashUntil || 0)) {
      el.hidden = false;
    } else {
      el.hidden = true;
      delete el.dataset.flash;
    }
  }

  function flash(alert) {
    var el = $("banner");
    el.className = "banner critical";
    el.dataset.flash = "1";
    el.dataset.flashUntil = String(Date.now() + 20000);
    el.textContent = t("wall.new_critical", { title: titleOf(alert),
      district: IOC.i18n.name("district", alert.district) });
    el.hidden = false;
    setTimeout(render, 20500);
  }

  function renderFilterNote(total, shown) {
    var f = state.filters;
    var active = f.group || f.district || f.severity || f.category || f.status || state.incidentFocus;
    $("filter-note").textContent = active ? t("wall.f.note", { shown: shown, total: total }) : "";
    document.body.classList.toggle("filtered", !!active);
  }

  /* --- detail ---------------------------------------------------------------------------- */
  function openDetail(alertId) {
    state.selected = alertId;
    state.selectedRecord = state.alerts.get(alertId) || null;
    $("detail").hidden = false;
    $("detail-backdrop").hidden = false;
    renderDetail();
    render();
  }

  function closeDetail() {
    state.selected = null;
    state.selectedRecord = null;
    $("detail").hidden = true;
    $("detail-backdrop").hidden = true;
    render();
  }

  function renderDetail() {
    var a = state.selectedRecord;
    var body = $("detail-body");
    if (!a) { closeDetail(); return; }
    var focus = document.activeElement;
    var typing = focus && body.contains(focus) && (focus.tagName === "INPUT" ||
      focus.tagName === "TEXTAREA" || focus.tagName === "SELECT");
    if (typing && body.dataset.version === String(a.version)) return;
    var saved = {};
    body.querySelectorAll("input, textarea, select").forEach(function (el) { saved[el.id] = el.value; });
    var ev = a.evidence || {};
    var unit = unitOf(a);
    $("detail-title").textContent = titleOf(a);
    var pending = state.pending.get(a.alert_id);
    var inc = incidentOf(a);
    var rows = [
      [t("d.status"), statusTrail(a) || (t("alert.status." + a.status) + (a.reason ? ": " + a.reason : ""))],
      [t("d.severity"), t("severity." + a.severity)],
      [t("d.group"), groupName(a.group)],
      [t("d.district"), IOC.i18n.name("district", a.district)],
      [t("d.source"), IOC.i18n.sourceName(a.source) + " (" + a.source + ")"],
      [t("d.metric"), IOC.i18n.name("metric", a.metric) + (unit ? " (" + unit + ")" : "")],
      [t("d.first_seen"), IOC.fmtDateTime(a.first_seen)],
      [t("d.last_seen"), IOC.fmtDateTime(a.last_seen)],
      [t("d.count"), String(a.count)]
    ];
    if (a.silenced_until) rows.push([t("d.silenced_until"), IOC.fmtDateTime(a.silenced_until)]);
    // for engineers: the detector, its score and parameters, the record's identity
    var tech = [
      [t("d.detector"), (ev.detector || a.detector) + (ev.detector_version ? " v" + ev.detector_version : "")],
      [t("d.score"), t(typeof ev.threshold === "number" ? "d.score.fires" : "d.score.value",
        { score: IOC.fmtNum(ev.score), raw: IOC.fmtNum(ev.raw), threshold: IOC.fmtNum(ev.threshold) })],
      [t("d.last_change"), a.change + " · v" + a.version],
      [t("d.alert_id"), a.alert_id]
    ];
    var html = '<div class="d-head sev-' + a.severity + '"><span class="sev-badge">' +
      esc(t("severity." + a.severity)) + '</span> <span class="d-status" data-status="' +
      a.status + '">' + esc(t("alert.status." + a.status)) + "</span>";
    if (inc) {
      html += ' <button type="button" class="chip chip-incident" data-incident-link="' +
        esc(inc.incident_id) + '">' + esc(t("d.incident", { title: incidentTitle(inc) })) + "</button>";
    }
    html += "</div>";
    var lines = valueLines(a);
    var recent = ev.recent || [];
    html += '<figure class="evidence"><figcaption>' + esc(t("d.evidence",
      { from: IOC.fmtTime(ev.window_start), to: IOC.fmtTime(ev.window_end) })) +
      (recent.length ? "" : " · " + esc(t("d.no_recent"))) + "</figcaption>" +
      IOC.sparkline(recent.length ? recent : [ev.value], { width: 640, height: 200,
        baseline: lines.baseline, thresholds: lines.limits, className: "spark-big", dot: 5,
        label: t("wall.spark.label", { metric: IOC.i18n.name("metric", a.metric) }) }) +
      '<div class="legend"><span class="lg-value">' + esc(t("d.value")) + " <b>" +
      IOC.fmtNum(ev.value) + "</b> " + esc(unit) + "</span>" + (typeof lines.baseline === "number"
        ? '<span class="lg-baseline">' + esc(t("d.baseline")) + " <b>" + IOC.fmtNum(lines.baseline) +
          "</b></span>" : "") +
      lines.limits.map(function (v) {
        return '<span class="lg-threshold">' + esc(t("d.limit")) + " <b>" + IOC.fmtNum(v) + "</b></span>";
      }).join("") + "</div></figure>";
    html += '<dl class="facts">' + rows.map(function (r) {
      return "<dt>" + esc(r[0]) + "</dt><dd>" + esc(r[1]) + "</dd>";
    }).join("") + "</dl>";
    html += '<details class="params engineers"><summary>' + esc(t("d.engineers")) + "</summary>" +
      '<dl class="facts-tech">' + tech.map(function (r) {
        return "<dt>" + esc(r[0]) + "</dt><dd>" + esc(r[1]) + "</dd>";
      }).join("") + "</dl>" + (ev.params && Object.keys(ev.params).length
        ? "<h4>" + esc(t("d.params")) + "</h4><pre>" + esc(JSON.stringify(ev.params, null, 1)) +
          "</pre>" : "") + "</details>";
    html += "<h3>" + esc(t("d.notes")) + '</h3><ol class="notes">' + (a.notes || []).map(function (n) {
      return '<li><b class="n-who" title="' + esc(n.user) + '">' + esc(IOC.who(n.user, n.display_name)) +
        "</b> <time>" + IOC.fmtDateTime(n.ts) + "</time><p>" +
        esc(n.text) + "</p></li>";
    }).join("") + "</ol>" + ((a.notes || []).length ? "" : '<p class="empty">' + esc(t("d.no_notes")) + "</p>");
    html += "<h3>" + esc(t("d.history")) + '</h3><div class="d-history" data-alert-id="' + esc(a.alert_id) + '"></div>';
    if (state.canCommand && a.status !== "resolved") {
      html += '<div class="commands control">' +
        "<label>" + esc(t("wall.reason")) + ' <input id="cmd-reason" type="text" maxlength="500" ' +
        'placeholder="' + esc(t("wall.reason.placeholder")) + '"></label><div class="cmd-buttons">' +
        (a.status === "firing" ? '<button type="button" class="act act-ack" data-action="ack" ' +
          'data-alert-id="' + esc(a.alert_id) + '"' + (pending ? " disabled" : "") +
          ">" + esc(t("wall.acknowledge")) + "</button>" : "") +
        '<button type="button" class="act act-resolve" data-action="resolve" data-alert-id="' +
        esc(a.alert_id) + '"' + (pending ? " disabled" : "") + ">" + esc(t("wall.resolve")) + "</button>" +
        '<button type="button" class="act act-silence" data-action="silence" data-alert-id="' +
        esc(a.alert_id) + '">' + esc(t("wall.silence1h")) + "</button></div>" +
        "<label>" + esc(t("wall.note")) + ' <textarea id="cmd-note" rows="2" maxlength="2000" ' +
        'placeholder="' + esc(t("wall.note.placeholder")) + '"></textarea></label>' +
        '<button type="button" class="act act-note" data-action="note" data-alert-id="' +
        esc(a.alert_id) + '">' + esc(t("wall.add_note")) + "</button>" +
        (pending ? '<p class="pending">' + esc(t("wall.sent.wait", { action: label(pending.action) })) +
          "</p>" : "") + "</div>";
    }
    body.innerHTML = html;
    body.dataset.version = String(a.version);
    if (IOC.wallHistory) IOC.wallHistory.fill(body.querySelector(".d-history"), a);  // history.js
    Object.keys(saved).forEach(function (id) {
      var el = document.getElementById(id);
      if (el) el.value = saved[id];
    });
  }

  /* --- commands -------------------------------------------------------------------------- */
  function toast(text, kind) {
    var el = $("toast");
    el.textContent = text;
    el.className = "toast " + (kind || "");
    el.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { el.hidden = true; }, 6000);
  }

  function sendCommand(action, alertId) {
    if (!conn || !state.canCommand) return;
    var fields = { action: action, alert_id: alertId };
    var reasonEl = $("cmd-reason");
    var reason = reasonEl && state.selected === alertId ? reasonEl.value.trim() : "";
    if (reason) fields.reason = reason;
    var tag = window.IOC_FEEDBACK && window.IOC_FEEDBACK.label(action, alertId);  // feedback.js
    if (tag) fields.label = tag;
    if (action === "note") {
      var text = ($("cmd-note") || {}).value || "";
      if (!text.trim()) { toast(t("wall.note.first"), "error"); return; }
      fields.text = text.trim();
    }
    if (action === "silence") {
      delete fields.alert_id;
      fields.matchers = { alert_id: alertId };
      fields.duration_s = 3600;
    }
    state.pending.set(alertId, { action: action, at: Date.now() });
    render();
    conn.command(fields).then(function (reply) {
      document.body.dataset.lastCommand = reply.command_id || "";
      toast(t("wall.cmd.sent", { action: label(action) }), "ok");
      if (action === "note" && $("cmd-note")) $("cmd-note").value = "";
      setTimeout(function () {
        var p = state.pending.get(alertId);
        if (p && Date.now() - p.at >= 59000) { state.pending.delete(alertId); render(); }
      }, 60000);
    }, function (err) {
      state.pending.delete(alertId);
      toast(t("wall.cmd.failed", { action: label(action), reason: err.reason || err.code || "?" }), "error");
      render();
    });
  }

  function label(action) {
    return { ack: t("wall.cmd.ack"), resolve: t("wall.cmd.resolve"), note: t("wall.cmd.note"),
      silence: t("wall.cmd.silence"), unsilence: t("wall.cmd.unsilence") }[action] || action;
  }

  /* --- events ---------------------------------------------------------------------------- */
  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (!(t instanceof Element)) return;
    var lift = t.closest("[data-unsilence]");
    if (lift) {
      ev.stopPropagation();
      sendUnsilence(lift.getAttribute("data-unsilence"));
      return;
    }
    var act = t.closest("[data-action]");
    if (act) {
      ev.stopPropagation();
      sendCommand(act.getAttribute("data-action"), act.getAttribute("data-alert-id"));
      return;
    }
    var link = t.closest("[data-incident-link]");
    if (link) {
      state.incidentFocus = link.getAttribute("data-incident-link");
      closeDetail();
      return;
    }
    var row = t.closest("li.alert");
    if (row) { openDetail(row.getAttribute("data-alert-id")); return; }
    var inc = t.closest("li.incident");
    if (inc) {
      var id = inc.getAttribute("data-incident-id");
      state.incidentFocus = state.incidentFocus === id ? null : id;
      render();
      return;
    }
    var tile = t.closest(".tile");
    if (tile) {
      var g = tile.getAttribute("data-group");
      state.filters.group = state.filters.group === g ? "" : g;
      $("f-group").value = state.filters.group;
      syncUrl();
      render();
    }
  });

  document.addEventListener("keydown", function (ev) {
    var typing = ev.target instanceof Element && ev.target.closest("input, textarea, select");
    if (ev.key === "Escape" && state.selected) { closeDetail(); return; }
    if (typing) return;
    if (ev.key === "Enter" && ev.target instanceof Element && ev.target.matches("li.alert")) {
      openDetail(ev.target.getAttribute("data-alert-id"));
    } else if (ev.key === "Enter" && ev.target instanceof Element && ev.target.matches("li.incident")) {
      ev.target.click();
    } else if (ev.key === "k" || ev.key === "K") {
      setKiosk(!document.body.classList.contains("kiosk"), true);
    }
  });

  /* The first gesture unlocks audio (browsers' autoplay policy) and, in ?kiosk=1, full screen. */
  function unlock() {
    if (sound.on) audioContext();
    showSoundButton();
    if (kioskFromUrl && document.body.classList.contains("kiosk")) setKiosk(true, true);
  }
  document.addEventListener("pointerdown", unlock);
  document.addEventListener("keydown", unlock);

  $("detail-close").addEventListener("click", closeDetail);
  $("detail-backdrop").addEventListener("click", closeDetail);
  $("btn-kiosk").addEventListener("click", function (ev) {
    ev.stopPropagation();
    setKiosk(!document.body.classList.contains("kiosk"), true);
  });
  $("btn-sound").addEventListener("click", function () {
    if (sound.on && sound.ctx && sound.ctx.state === "running") {
      sound.on = false;
    } else {
      sound.on = true;
      audioContext();
    }
    localStorage.setItem("ioc.sound", sound.on ? "on" : "off");
    showSoundButton();
  });
  $("btn-resync").addEventListener("click", function () { if (conn) conn.resync(); });

  /* One filter set from outside the form (the map, wall-map.js): "" clears it. */
  function setFilter(key, value) {
    state.filters[key] = value || "";
    var input = $("f-" + key);
    if (input) input.value = state.filters[key];
    syncUrl();
    render();
  }

  function syncUrl() {
    var q = new URLSearchParams(window.location.search);
    ["group", "district", "severity", "category", "status"].forEach(function (k) {
      if (state.filters[k]) q.set(k, state.filters[k]); else q.delete(k);
    });
    var s = q.toString();
    history.replaceState(null, "", window.location.pathname + (s ? "?" + s : "") + window.location.hash);
  }

  function setupFilters() {
    var gsel = $("f-group");
    state.catalog.groups.forEach(function (g) {
      var o = document.createElement("option");
      o.value = g.slug;
      o.textContent = g.number + ". " + groupName(g.slug);
      gsel.appendChild(o);
    });
    var dsel = $("f-district");
    state.catalog.districts.forEach(function (d) {
      var o = document.createElement("option");
      o.value = d.name;
      o.textContent = IOC.i18n.name("district", d.name);
      dsel.appendChild(o);
    });
    ["group", "district", "severity", "category", "status"].forEach(function (k) {
      var el = $("f-" + k);
      el.value = state.filters[k];
      el.addEventListener("change", function () {
        state.filters[k] = el.value;
        syncUrl();
        render();
      });
    });
    $("f-clear").addEventListener("click", function () {
      ["group", "district", "severity", "category", "status"].forEach(function (k) {
        state.filters[k] = "";
        $("f-" + k).value = "";
      });
      state.incidentFocus = null;
      syncUrl();
      render();
    });
  }

  /* --- start ----------------------------------------------------------------------------- */
  /* A refused token: say so, with the way in (the login page signs in, or takes a pasted
   * token); never a native prompt, which would block a wall display. */
  function askToken(message) {
    var el = $("banner");
    el.hidden = false;
    el.className = "banner error";
    el.innerHTML = esc(message) + ' <a class="btn-link" id="btn-token" href="/login?next=' +
      encodeURIComponent(window.location.pathname + window.location.search) + '">' +
      esc(t("wall.token.enter")) + "</a>";
  }

  function connect(tok) {
    conn = new IOC.Connection({ token: tok, subscribe: { windows: false, summary: true } }, {
      onStatus: function (st, detail) {
        IOC.showStatus($("conn"), st, detail);
        document.body.dataset.conn = st;
        fresh.status(st);
        if (st === "unauthorized") {
          if (!conn.options.token) { IOC.toLogin(); return; }
          askToken(t("wall.token.refused"));
        }
      },
      onHeartbeat: function (msg) { fresh.server(msg); },
      onUnregistered: renderUnregistered,
      onWelcome: function (msg) {
        state.canCommand = !!msg.can_command;
        state.role = msg.role;
        document.body.dataset.role = msg.role;
        document.body.dataset.resumed = String(!!msg.resumed);
        document.body.dataset.welcomes = String(Number(document.body.dataset.welcomes || 0) + 1);
        document.body.classList.toggle("can-command", state.canCommand);
        render();
      },
      onSnapshot: function (msg) { loadSnapshot(msg); refreshSummarySoon(); },
      onDelta: onDelta,
      onSummary: setSummary,
      onResync: function () { /* the snapshot that follows replaces everything */ },
      onError: function (msg) {
        if (msg.code !== "unauthorized") toast(t("wall.server_error", { reason: msg.reason || msg.code }), "error");
      }
    });
    window.IOC_WALL = { state: state, conn: conn, openDetail: openDetail, setFilter: setFilter };
    conn.connect();
  }

  function start() {
    $("filters").addEventListener("submit", function (ev) { ev.preventDefault(); });
    if (kioskFromUrl) setKiosk(true, false);
    showSoundButton();
    IOC.startClock($("clock"));
    var tok = IOC.token();
    IOC.loadCatalog().then(function (cat) {
      state.catalog = cat;
      setupFilters();
      render();
    }, function (err) {
      toast(t("error.catalog", { reason: err.message }), "error");
    });
    IOC.account();
    connect(tok);
    setInterval(render, 5000);  // ages out the "new" highlight and stale pending marks
  }

  IOC.i18n.ready.then(start);
})();
