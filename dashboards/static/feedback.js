/* Detector feedback (issue 16), on two pages:
 * - the wall: the alert detail's acknowledge/resolve commands get a label choice (real, false
 *   alarm, sensor fault, planned); wall.js asks IOC.feedbackLabel(action, alertId) when it
 *   sends an ack or a resolve, and the reason field is the label's note;
 * - the reports page: the "Detector feedback" section, filled from /api/feedback (engineers
 *   and admins only: the server answers 403 to anyone else, and the section stays hidden).
 * Its words come from the reader's message catalog (IOC.t, i18n.js: the "fb." keys). */
(function () {
  "use strict";

  var WORDS = ["label", "none", "real", "false_alarm", "sensor_fault", "planned", "period",
    "detector", "metric", "labelled", "precision", "empty", "heading"];
  var LABELS = ["real", "false_alarm", "sensor_fault", "planned"];

  function words() {
    var out = {};
    WORDS.forEach(function (k) { out[k] = window.IOC.t("fb." + k); });
    return out;
  }

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  /* --- the wall: a label choice beside the reason --------------------------------------- */
  var chosen = {};  // alert_id -> label (kept across the detail's re-renders)

  function addChoice(body) {
    var commands = body.querySelector(".commands");
    if (!commands || commands.querySelector("#cmd-label")) return;
    var act = commands.querySelector("[data-alert-id]");
    var alertId = act ? act.getAttribute("data-alert-id") : "";
    var w = words();
    var label = document.createElement("label");
    label.className = "cmd-label";
    label.innerHTML = esc(w.label) + ' <select id="cmd-label"><option value="">' + esc(w.none) +
      "</option>" + LABELS.map(function (l) {
        return '<option value="' + l + '">' + esc(w[l]) + "</option>";
      }).join("") + "</select>";
    var select = label.querySelector("select");
    select.value = chosen[alertId] || "";
    select.addEventListener("change", function () { chosen[alertId] = select.value; });
    var buttons = commands.querySelector(".cmd-buttons");
    commands.insertBefore(label, buttons || commands.firstChild);
  }

  function watchWall() {
    var body = document.getElementById("detail-body");
    if (!body) return;
    new MutationObserver(function () { addChoice(body); }).observe(body, { childList: true });
    addChoice(body);
  }

  /* The label wall.js sends with an ack or a resolve of ``alertId`` (null: none chosen). */
  function feedbackLabel(action, alertId) {
    if (action !== "ack" && action !== "resolve") return null;
    var label = chosen[alertId];
    if (label) delete chosen[alertId];
    return label || null;
  }

  /* --- the reports page: the engineers' panel --------------------------------------------- */
  function pct(v) { return v === null || v === undefined ? "–" : Math.round(100 * v) + "%"; }

  function fillPanel(section, data) {
    var w = words();
    var rows = data.rows || [];
    section.querySelector("h2").textContent = w.heading;
    var body = section.querySelector("tbody");
    section.querySelector("thead").innerHTML = "<tr><th>" + [w.period, w.detector, w.metric,
      w.labelled, w.real, w.false_alarm, w.sensor_fault, w.planned, w.precision].map(esc)
      .join("</th><th>") + "</th></tr>";
    body.innerHTML = rows.length ? rows.map(function (r) {
      return "<tr><td>" + [r.period, r.detector, r.group + " / " + r.metric, r.labelled, r.real,
        r.false_alarm, r.sensor_fault, r.planned, pct(r.precision)].map(esc)
        .join("</td><td>") + "</td></tr>";
    }).join("") : '<tr><td colspan="9" class="empty">' + esc(w.empty) + "</td></tr>";
    section.hidden = false;
  }

  function loadPanel() {
    var section = document.getElementById("r-feedback");
    if (!section) return;
    var tok = window.IOC && window.IOC.token ? window.IOC.token() : null;  // a shared token
    var headers = tok ? { "Authorization": "Bearer " + tok } : {};           // else the session
    fetch("/api/feedback?by=week", { headers: headers, cache: "no-store",
                                     credentials: "same-origin" }).then(function (r) {
      if (r.status !== 200) return null;  // not an engineer: the panel stays hidden
      return r.json();
    }).then(function (data) {
      document.body.dataset.feedback = data ? "shown" : "hidden";
      if (data) window.IOC.i18n.ready.then(function () { fillPanel(section, data); });
    }, function () { /* the archive is unreachable: the panel stays hidden */ });
  }

  window.IOC_FEEDBACK = { label: feedbackLabel, labels: LABELS };
  if (window.IOC) window.IOC.feedbackLabel = feedbackLabel;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { watchWall(); loadPanel(); });
  } else {
    watchWall();
    loadPanel();
  }
})();
