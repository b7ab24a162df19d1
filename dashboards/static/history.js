/* The archive on the wall (docs/protocol.md, "The archive over HTTP"):
 *
 * - IOC.wallHistory.fill(el, alert): the alert detail's "History" section: every version of the
 *   alert and every command on it (who, what, when, result, notes) from
 *   GET /api/history/alerts/<id>; cached per alert version, so the detail's re-renders do not
 *   refetch;
 * - the history panel (#history, opened by #btn-history): searches past alerts by text, group,
 *   district, source, severity, status and time range (GET /api/history/alerts), newest first,
 *   "More" loads the next page (the server's cursor); a result opens its history below.
 *
 * Read-only; any role's token. #history[data-searches] counts the searches answered (tests).
 */
(function () {
  "use strict";

  var esc = IOC.esc;
  var cache = {};  // alert_id -> { version, html }
  var search = { next: null, seq: 0, query: null };

  function $(id) { return document.getElementById(id); }

  function get(path) {
    var tok = IOC.token(false);
    var headers = tok ? { "Authorization": "Bearer " + tok } : {};
    return fetch(path, { headers: headers, cache: "no-store" }).then(function (resp) {
      return resp.text().then(function (body) {
        var data = null;
        try { data = JSON.parse(body); } catch (e) { /* not JSON */ }
        if (!resp.ok) {
          var reason = data && data.reason ? data.reason : body.trim();
          var err = new Error(resp.status === 404 ? "not in the archive" :
            "HTTP " + resp.status + (reason ? ": " + reason : ""));
          err.status = resp.status;
          throw err;
        }
        return data;
      });
    });
  }

  var t = IOC.t;

  function historyHtml(h) {
    var versions = h.versions.slice().reverse();  // newest first
    var html = '<table class="h-versions"><thead><tr><th>v</th><th>' + esc(t("h.col.when")) +
      "</th><th>" + esc(t("h.col.change")) + "</th><th>" + esc(t("h.col.status")) + "</th><th>" +
      esc(t("h.col.severity")) + "</th><th>" + esc(t("h.col.who")) + "</th><th>" +
      esc(t("h.col.why")) + "</th></tr></thead><tbody>" +
      versions.map(function (v) {
        var why = v.note ? v.note : (v.reason || "");
        return '<tr data-version="' + v.version + '" data-change="' + esc(v.change) + '"><td>' +
          v.version + "</td><td>" + esc(IOC.fmtDateTime(v.updated_at)) + "</td><td>" +
          esc(v.change) + "</td><td>" + esc(t("alert.status." + v.status)) +
          '</td><td><span class="sev-dot sev-' + esc(v.severity) + '"></span>' +
          esc(t("severity." + v.severity)) + '</td><td class="h-user" title="' +
          esc(v.user_name || "") + '">' + esc(IOC.who(v.user_name, v.display_name) || "–") +
          "</td><td>" + esc(why) + "</td></tr>";
      }).join("") + "</tbody></table>";
    if (h.commands.length) {
      html += "<h4>" + esc(t("h.commands")) + '</h4><ol class="h-commands">' + h.commands.map(function (c) {
        return '<li data-command="' + esc(c.action) + '"><b>' + esc(c.action) +
          '</b> · <span class="h-user" title="' + esc(c.user) + '">' +
          esc(IOC.who(c.user, c.display_name)) + "</span> <time>" +
          esc(IOC.fmtDateTime(c.ts)) + "</time>" + (c.reason ? " · " + esc(c.reason) : "") +
          (c.text ? " · “" + esc(c.text) + "”" : "") + ' <span class="h-result">' +
          esc(c.result) + "</span></li>";
      }).join("") + "</ol>";
    }
    return html;
  }

  /* The alert detail's history section (the wall calls this after each render of the detail). */
  function fill(el, alert) {
    if (!el || !alert) return;
    var held = cache[alert.alert_id];
    if (held && held.version >= alert.version) {
      el.innerHTML = held.html;
      el.dataset.loaded = "true";
      return;
    }
    el.innerHTML = '<p class="empty">' + esc(t("h.loading")) + "</p>";
    get("/api/history/alerts/" + encodeURIComponent(alert.alert_id)).then(function (h) {
      var newest = h.versions.length ? h.versions[h.versions.length - 1].version : 0;
      var html = historyHtml(h);
      cache[alert.alert_id] = { version: newest, html: html };
      var now = document.querySelector('.d-history[data-alert-id="' + CSS.escape(alert.alert_id) + '"]');
      if (now) { now.innerHTML = html; now.dataset.loaded = "true"; }
    }, function (err) {
      var now = document.querySelector('.d-history[data-alert-id="' + CSS.escape(alert.alert_id) + '"]');
      if (now) now.innerHTML = '<p class="empty">' + esc(t("h.unavailable", { reason: err.message })) + "</p>";
    });
  }

  /* --- the history panel ---------------------------------------------------------------- */
  function toEpoch(value) {  // datetime-local, read as Da Nang time (UTC+7)
    if (!value) return "";
    var t = Date.parse(value + (value.length === 16 ? ":00" : "") + "+07:00");
    return isNaN(t) ? "" : String(t / 1000);
  }

  function currentQuery() {
    var q = new URLSearchParams();
    [["text", "h-text"], ["group", "h-group"], ["district", "h-district"],
      ["source", "h-source"], ["severity", "h-severity"], ["status", "h-status"]]
      .forEach(function (p) {
        var v = $(p[1]).value.trim();
        if (v) q.set(p[0], v);
      });
    var since = toEpoch($("h-since").value), until = toEpoch($("h-until").value);
    if (since) q.set("since", since);
    if (until) q.set("until", until);
    q.set("limit", "25");
    return q;
  }

  function resultRow(r) {
    return '<li class="hist-row" tabindex="0" data-alert-id="' + esc(r.alert_id) +
      '" data-version="' + r.version + '"><span class="sev-dot sev-' + esc(r.severity) +
      '"></span><span class="h-when">' + esc(IOC.fmtDateTime(r.updated_at)) + "</span> " +
      '<span class="h-title">' + esc(r.title_parts ? IOC.i18n.render(r.title_parts) : r.title) +
      "</span> " + '<span class="h-change">' + esc(r.change) + " · " +
      esc(t("alert.status." + r.status)) +
      (r.user_name ? " · " + esc(IOC.who(r.user_name, r.display_name)) : "") +
      "</span></li>";
  }

  function runSearch(more) {
    var seq = ++search.seq;
    var q = more ? new URLSearchParams(search.query) : currentQuery();
    if (more) q.set("cursor", search.next);
    else search.query = q.toString();
    $("h-note").textContent = t("h.searching");
    get("/api/history/alerts?" + q.toString()).then(function (page) {
      if (seq !== search.seq) return;
      var html = page.alerts.map(resultRow).join("");
      if (more) $("h-results").insertAdjacentHTML("beforeend", html);
      else { $("h-results").innerHTML = html; $("h-detail").hidden = true; }
      search.next = page.next;
      $("h-more").hidden = !page.next;
      var n = $("h-results").children.length;
      $("h-note").textContent = n ? t(page.next ? "h.found.more" : "h.found", { n: n })
        : t("h.nothing");
      var panel = $("history");
      panel.dataset.searches = String(Number(panel.dataset.searches || 0) + 1);
    }, function (err) {
      if (seq === search.seq) $("h-note").textContent = t("h.failed", { reason: err.message });
    });
  }

  function showPast(alertId) {
    var box = $("h-detail");
    box.hidden = false;
    box.dataset.alertId = alertId;
    box.innerHTML = "<h3>" + esc(alertId) + '</h3><div class="d-history" data-alert-id="' +
      esc(alertId) + '"></div>';
    fill(box.querySelector(".d-history"), { alert_id: alertId, version: Infinity });
    box.scrollIntoView({ block: "nearest" });
  }

  function setupPanel() {
    var panel = $("history");
    if (!panel) return;
    $("btn-history").addEventListener("click", function () {
      panel.hidden = !panel.hidden;
      if (!panel.hidden) $("h-text").focus();
    });
    $("h-close").addEventListener("click", function () { panel.hidden = true; });
    $("h-search").addEventListener("click", function () { runSearch(false); });
    $("h-more").addEventListener("click", function () { runSearch(true); });
    panel.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && ev.target instanceof Element && ev.target.closest(".hist-form")) {
        runSearch(false);
      } else if (ev.key === "Enter" && ev.target instanceof Element && ev.target.matches("li.hist-row")) {
        showPast(ev.target.getAttribute("data-alert-id"));
      } else if (ev.key === "Escape") {
        panel.hidden = true;
      }
    });
    $("h-results").addEventListener("click", function (ev) {
      var row = ev.target instanceof Element && ev.target.closest("li.hist-row");
      if (row) showPast(row.getAttribute("data-alert-id"));
    });
    IOC.loadCatalog().then(function (cat) {
      $("h-group").insertAdjacentHTML("beforeend", cat.groups.map(function (g) {
        return '<option value="' + esc(g.slug) + '">' + esc(cat.groupName(g.slug)) + "</option>";
      }).join(""));
      $("h-district").insertAdjacentHTML("beforeend", cat.districts.map(function (d) {
        return '<option value="' + esc(d.name) + '">' + esc(IOC.i18n.name("district", d.name)) + "</option>";
      }).join(""));
    }, function () { /* the wall shows the catalog error */ });
  }

  IOC.wallHistory = { fill: fill };
  IOC.i18n.ready.then(setupPanel);
})();
