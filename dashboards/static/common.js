/* ioc-monitor pages: what the wall and the summary share (no build step, no dependencies).
 *
 * IOC.token()        a shared access token: #token=... in the URL, else sessionStorage; none:
 *                    the page runs on its signed-in session cookie (no prompt: the login page
 *                    takes a pasted token)
 * IOC.t(), IOC.i18n  the reader's language (i18n.js): messages, names, numbers and dates
 * IOC.account()      the signed-in person's name and the sign-out button (GET /api/me)
 * IOC.toLogin()      back to the login page (the session ended)
 * IOC.Connection     the websocket client of docs/protocol.md: auth, resume from the last
 *                    sequence, resync, heartbeat watchdog, reconnect with backoff, commands
 * IOC.sparkline()    an SVG sparkline with optional baseline and threshold lines
 * IOC.fetchJSON()    GET with the bearer token
 * IOC.Freshness      the stale-data banner: how old the data on the page is, shown when the
 *                    connection is lost or the server has had no indicator for too long
 * formatting helpers (numbers, times, durations) and severity order/colours
 */
(function () {
  "use strict";

  var SEVERITIES = ["info", "warning", "major", "critical"];
  var SEV_RANK = { info: 0, warning: 1, major: 2, critical: 3 };
  var TOKEN_KEY = "ioc.token";
  var I18N = window.IOC_I18N;
  var t = I18N.t;

  function esc(value) {
    return String(value === null || value === undefined ? "" : value)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  /* The token: from the URL fragment (then removed from the address bar so it is not shown on a
   * wall or copied by accident), else from this tab's sessionStorage, else none. */
  function token() {
    var hash = window.location.hash.replace(/^#/, "");
    if (hash) {
      var params = new URLSearchParams(hash);
      var fromUrl = params.get("token");
      if (fromUrl) {
        sessionStorage.setItem(TOKEN_KEY, fromUrl);
        params.delete("token");
        var rest = params.toString();
        history.replaceState(null, "", window.location.pathname + window.location.search +
          (rest ? "#" + rest : ""));
      }
    }
    return sessionStorage.getItem(TOKEN_KEY) || null;
  }

  function forgetToken() { sessionStorage.removeItem(TOKEN_KEY); }

  /* Signing out: the server closes this page's websocket while the form's own navigation to
   * the login page is in flight; it must not be overtaken by toLogin(). */
  var signingOut = false;
  function signOut() { signingOut = true; forgetToken(); }

  /* Back to the login page, which brings this page back once signed in. */
  function toLogin() {
    if (signingOut) return;
    window.location.assign("/login?m=ended&next=" + encodeURIComponent(window.location.pathname));
  }

  /* Show who is signed in (#account-name: "Lan Nguyen · operator", or "operator (shared
   * token)" for a tab that opened a shared-token link, in the reader's language) and arm the
   * sign-out form (#signout-form) with the session's form token; hidden for a page running
   * on a bare token. */
  function account() {
    var box = document.getElementById("account");
    if (!box) return Promise.resolve(null);
    return fetch("/api/me", { cache: "no-store", credentials: "same-origin" }).then(function (resp) {
      return resp.ok ? resp.json() : null;
    }).then(function (me) {
      if (!me || !me.csrf) return me;
      var role = t("role." + me.role);
      var name = document.getElementById("account-name");
      name.textContent = me.kind === "token"
        ? t("account.shared", { role: role }) : me.display_name + " · " + role;
      name.title = name.textContent;  /* the whole name, when a narrow bar cuts it */
      document.getElementById("signout-csrf").value = me.csrf;
      document.getElementById("signout-form").addEventListener("submit", signOut);
      box.hidden = false;
      document.body.dataset.user = me.login;
      return me;
    }, function () { return null; });
  }

  function fetchJSON(path, tok) {
    var headers = { "Accept": "application/json" };
    if (tok) headers["Authorization"] = "Bearer " + tok;
    return fetch(path, { headers: headers, cache: "no-store" }).then(function (resp) {
      if (!resp.ok) {
        var err = new Error(path + ": HTTP " + resp.status);
        err.status = resp.status;
        throw err;
      }
      return resp.json();
    });
  }

  /* ---------------------------------------------------------------------------------------
   * The websocket client.
   *
   * handlers: onStatus(state, detail), onWelcome(msg), onSnapshot(msg), onDelta(msg),
   *           onResync(msg), onSummary(msg), onError(msg)
   * options:  token, name, subscribe (object), path (default /ws)
   *
   * Resume: the client remembers the server's epoch and the largest seq it has received
   * (delta, snapshot or heartbeat) and sends them in `auth` when it reconnects; the server
   * replays what was missed or answers with a resync and a fresh snapshot.
   * --------------------------------------------------------------------------------------- */
  function Connection(options, handlers) {
    this.options = options;
    this.h = handlers || {};
    this.ws = null;
    this.epoch = null;
    this.seq = null;
    this.attempt = 0;
    this.lastMessageAt = 0;
    this.stopped = false;
    this.refCounter = 0;
    this.pending = {};
    this.timer = null;
    this.welcome = null;
    this.state = "connecting";
    var self = this;
    this.watchdog = setInterval(function () { self._watch(); }, 5000);
    window.addEventListener("online", function () { self.reconnectNow(); });
  }

  Connection.prototype._status = function (state, detail) {
    this.state = state;
    if (this.h.onStatus) this.h.onStatus(state, detail || "");
  };

  Connection.prototype.url = function () {
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + window.location.host + (this.options.path || "/ws");
  };

  Connection.prototype.connect = function () {
    var self = this;
    if (this.stopped) return;
    clearTimeout(this.timer);
    this._status("connecting", this.attempt ? t("conn.attempt", { n: this.attempt + 1 }) : "");
    var ws;
    try {
      ws = new WebSocket(this.url());
    } catch (e) {
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = function () {
      if (ws !== self.ws) return;
      self.lastMessageAt = Date.now();
      var auth = { type: "auth" };
      if (self.options.token) auth.token = self.options.token;
      if (self.options.name) auth.name = self.options.name;
      if (self.options.subscribe) auth.subscribe = self.options.subscribe;
      if (self.epoch !== null && self.seq !== null) {
        auth.resume = { epoch: self.epoch, seq: self.seq };
      }
      ws.send(JSON.stringify(auth));
      self._status("authenticating");
    };
    ws.onmessage = function (ev) {
      if (ws !== self.ws) return;
      self.lastMessageAt = Date.now();
      var msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      self._dispatch(msg);
    };
    ws.onclose = function (ev) {
      if (ws !== self.ws) return;
      self.ws = null;
      self.welcome = null;
      self._failPending("connection closed");
      if (self.stopped) return;
      if (self.state === "unauthorized") return;
      self._scheduleReconnect(ev.code);
    };
    ws.onerror = function () { /* onclose follows */ };
  };

  Connection.prototype._scheduleReconnect = function (code) {
    var self = this;
    var delay = Math.min(15000, 500 * Math.pow(2, this.attempt)) * (0.8 + Math.random() * 0.4);
    this.attempt += 1;
    var secs = Math.max(1, Math.round(delay / 1000));
    this._status("reconnecting", t("conn.retry", { seconds: secs }) + (code ? " (" + code + ")" : ""));
    clearTimeout(this.timer);
    this.timer = setTimeout(function () { self.connect(); }, delay);
  };

  Connection.prototype.reconnectNow = function () {
    if (this.stopped || this.state === "unauthorized") return;
    if (this.ws && this.ws.readyState <= 1) return;
    this.attempt = 0;
    this.connect();
  };

  /* No frame for 40 s (heartbeats come every 15 s): the link is dead even if TCP has not
   * noticed; close it and reconnect. */
  Connection.prototype._watch = function () {
    if (!this.ws || this.ws.readyState !== 1 || !this.welcome) return;
    var limit = ((this.welcome.heartbeat_s || 15) * 2 + 10) * 1000;
    if (Date.now() - this.lastMessageAt > limit) {
      var ws = this.ws;
      this.ws = null;
      this.welcome = null;
      try { ws.close(); } catch (e) { /* already closing */ }
      this._scheduleReconnect();
    }
  };

  Connection.prototype._advance = function (seq) {
    if (typeof seq === "number" && (this.seq === null || seq > this.seq)) this.seq = seq;
  };

  Connection.prototype._dispatch = function (msg) {
    switch (msg.type) {
      case "welcome":
        this.welcome = msg;
        this.attempt = 0;
        if (this.epoch !== null && msg.epoch !== this.epoch) this.seq = null;
        this.epoch = msg.epoch;
        if (msg.resumed) this._advance(msg.seq);
        this._status("connected", msg.resumed ? t("conn.resumed") : "");
        if (this.h.onWelcome) this.h.onWelcome(msg);
        break;
      case "snapshot":
        this.epoch = msg.epoch;
        this.seq = typeof msg.seq === "number" ? msg.seq : this.seq;
        if (this.h.onSnapshot) this.h.onSnapshot(msg);
        break;
      case "delta":
        this._advance(msg.seq);
        if (this.h.onDelta) this.h.onDelta(msg);
        break;
      case "heartbeat":
        if (msg.epoch && this.epoch && msg.epoch !== this.epoch) {
          this.resync();  // a different server process: start over
        } else {
          this._advance(msg.seq);
        }
        if (this.h.onHeartbeat) this.h.onHeartbeat(msg);
        break;
      case "resync":
        if (this.h.onResync) this.h.onResync(msg);
        break;
      case "summary":
        if (this.h.onSummary) this.h.onSummary(msg);
        break;
      case "unregistered":
        if (this.h.onUnregistered) this.h.onUnregistered(msg);
        break;
      case "accepted":
      case "pong":
        this._settle(msg, null);
        break;
      case "error":
        if (msg.code === "unauthorized") {
          this._status("unauthorized", msg.reason || "wrong token");
          forgetToken();
        }
        if (!this._settle(msg, msg) && this.h.onError) this.h.onError(msg);
        break;
      default:
        break;  // unknown types are ignored (protocol section 11)
    }
  };

  Connection.prototype._settle = function (msg, error) {
    var ref = msg.ref;
    if (!ref || !this.pending[ref]) return false;
    var p = this.pending[ref];
    delete this.pending[ref];
    clearTimeout(p.timer);
    if (error) p.reject(error); else p.resolve(msg);
    return true;
  };

  Connection.prototype._failPending = function (reason) {
    var refs = Object.keys(this.pending);
    for (var i = 0; i < refs.length; i++) {
      var p = this.pending[refs[i]];
      clearTimeout(p.timer);
      p.reject({ code: "unavailable", reason: reason });
    }
    this.pending = {};
  };

  Connection.prototype.send = function (msg) {
    if (!this.ws || this.ws.readyState !== 1) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  };

  /* Send a message with a fresh ref; resolves with `accepted`/`pong`, rejects with `error`. */
  Connection.prototype.request = function (msg, timeoutMs) {
    var self = this;
    this.refCounter += 1;
    var ref = "r" + Date.now().toString(36) + "-" + this.refCounter;
    msg.ref = ref;
    return new Promise(function (resolve, reject) {
      if (!self.send(msg)) {
        reject({ code: "unavailable", reason: "not connected" });
        return;
      }
      var timer = setTimeout(function () {
        if (self.pending[ref]) {
          delete self.pending[ref];
          reject({ code: "unavailable", reason: "no answer from the server" });
        }
      }, timeoutMs || 15000);
      self.pending[ref] = { resolve: resolve, reject: reject, timer: timer };
    });
  };

  Connection.prototype.command = function (fields) {
    var msg = { type: "command" };
    for (var k in fields) if (Object.prototype.hasOwnProperty.call(fields, k)) msg[k] = fields[k];
    return this.request(msg, 15000);
  };

  /* Resync on demand: re-sending the subscription makes the server answer with a resync and a
   * fresh snapshot (protocol section 4). */
  Connection.prototype.resync = function () {
    var sub = { type: "subscribe" };
    var s = this.options.subscribe || {};
    for (var k in s) if (Object.prototype.hasOwnProperty.call(s, k)) sub[k] = s[k];
    if (!this.send(sub)) {
      this.epoch = null;
      this.seq = null;
      this.reconnectNow();
    }
  };

  Connection.prototype.close = function () {
    this.stopped = true;
    clearInterval(this.watchdog);
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000);
  };

  /* ---------------------------------------------------------------------------------------
   * SVG sparkline. values: numbers (nulls are gaps). opts: width, height, baseline,
   * thresholds (numbers; `threshold` for one), className, label (accessible name).
   * --------------------------------------------------------------------------------------- */
  function sparkline(values, opts) {
    opts = opts || {};
    var w = opts.width || 120, h = opts.height || 32, pad = opts.pad === undefined ? 3 : opts.pad;
    var nums = [];
    for (var i = 0; i < values.length; i++) {
      if (typeof values[i] === "number" && isFinite(values[i])) nums.push(values[i]);
    }
    var lines = [];
    if (typeof opts.baseline === "number" && isFinite(opts.baseline)) lines.push(opts.baseline);
    var limits = (opts.thresholds || [opts.threshold]).filter(function (t) {
      return typeof t === "number" && isFinite(t);
    });
    lines = lines.concat(limits);
    var label = esc(opts.label || "trend");
    var cls = "spark" + (opts.className ? " " + opts.className : "");
    if (!nums.length) {
      return '<svg class="' + cls + ' spark-empty" viewBox="0 0 ' + w + " " + h + '" width="' +
        w + '" height="' + h + '" role="img" aria-label="' + esc(t("spark.no_data", { label: opts.label || "" })) + '">' +
        '<line x1="0" x2="' + w + '" y1="' + (h / 2) + '" y2="' + (h / 2) +
        '" class="spark-none"/></svg>';
    }
    var lo = Math.min.apply(null, nums.concat(lines));
    var hi = Math.max.apply(null, nums.concat(lines));
    if (hi === lo) { hi += 1; lo -= 1; }
    var n = values.length;
    function x(idx) { return n === 1 ? w / 2 : pad + (w - 2 * pad) * idx / (n - 1); }
    function y(v) { return pad + (h - 2 * pad) * (1 - (v - lo) / (hi - lo)); }
    var parts = [], seg = [];
    for (var j = 0; j < n; j++) {
      var v = values[j];
      if (typeof v === "number" && isFinite(v)) {
        seg.push(x(j).toFixed(1) + "," + y(v).toFixed(1));
      } else if (seg.length) {
        parts.push(seg); seg = [];
      }
    }
    if (seg.length) parts.push(seg);
    var svg = '<svg class="' + cls + '" viewBox="0 0 ' + w + " " + h + '" width="' + w +
      '" height="' + h + '" preserveAspectRatio="none" role="img" aria-label="' + label + '">';
    if (typeof opts.baseline === "number" && isFinite(opts.baseline)) {
      var yb = y(opts.baseline).toFixed(1);
      svg += '<line class="spark-baseline" x1="0" x2="' + w + '" y1="' + yb + '" y2="' + yb +
        '"><title>' + esc(t("spark.baseline", { value: fmtNum(opts.baseline) })) + "</title></line>";
    }
    for (var k0 = 0; k0 < limits.length; k0++) {
      var yt = y(limits[k0]).toFixed(1);
      svg += '<line class="spark-threshold" x1="0" x2="' + w + '" y1="' + yt + '" y2="' + yt +
        '"><title>' + esc(t("spark.limit", { value: fmtNum(limits[k0]) })) + "</title></line>";
    }
    for (var k = 0; k < parts.length; k++) {
      if (parts[k].length === 1) {
        var xy = parts[k][0].split(",");
        svg += '<circle class="spark-dot" cx="' + xy[0] + '" cy="' + xy[1] + '" r="2"/>';
      } else {
        svg += '<polyline class="spark-line" points="' + parts[k].join(" ") + '"/>';
      }
    }
    var lastIdx = -1;
    for (var m = n - 1; m >= 0; m--) {
      if (typeof values[m] === "number" && isFinite(values[m])) { lastIdx = m; break; }
    }
    if (lastIdx >= 0) {
      svg += '<circle class="spark-last" cx="' + x(lastIdx).toFixed(1) + '" cy="' +
        y(values[lastIdx]).toFixed(1) + '" r="' + (opts.dot || 3) + '"/>';
    }
    return svg + "</svg>";
  }

  /* ---------------------------------------------------------------------------------------
   * Stale data. The server says in every snapshot and heartbeat how old its newest indicator
   * is (`indicators_age_s`, counted on its own clock, so a skewed page clock does not matter)
   * and after how long that is stale (`stale_after_s`); an indicator delta is news by itself.
   * The banner (element `el`) shows, with the age of the data:
   *   - when the page has lost the server (any state but "connected" after data arrived),
   *   - when connected but no indicator has arrived for longer than `stale_after_s`.
   * body[data-stale] is "disconnected", "indicators" or absent; el[data-age-s] the age.
   * --------------------------------------------------------------------------------------- */
  function Freshness(el) {
    this.el = el;
    this.dataAt = null;      // Date.now() of the newest indicator the server had
    this.seenAt = null;      // Date.now() of the last frame with data (snapshot, heartbeat)
    this.staleAfter = null;
    this.state = "connecting";
    var self = this;
    setInterval(function () { self.update(); }, 1000);
  }

  Freshness.prototype.server = function (msg) {
    var now = Date.now();
    this.seenAt = now;
    if (typeof msg.stale_after_s === "number") this.staleAfter = msg.stale_after_s;
    if (typeof msg.indicators_age_s === "number") {
      this.dataAt = now - msg.indicators_age_s * 1000;
    }
    this.update();
  };

  Freshness.prototype.indicator = function () {
    this.dataAt = Date.now();
    this.seenAt = this.dataAt;
    this.update();
  };

  Freshness.prototype.status = function (state) {
    this.state = state;
    this.update();
  };

  Freshness.prototype.update = function () {
    var since = this.dataAt !== null ? this.dataAt : this.seenAt;
    var age = since === null ? null : Math.max(0, (Date.now() - since) / 1000);
    var kind = "";
    if (this.state !== "connected" && this.state !== "unauthorized" && this.seenAt !== null) {
      kind = "disconnected";
    } else if (this.state === "connected" && this.staleAfter !== null && age !== null &&
               age > this.staleAfter) {
      kind = "indicators";
    }
    var el = this.el;
    if (!kind) {
      el.hidden = true;
      delete document.body.dataset.stale;
      return;
    }
    var ageText = age === null ? t("stale.unknown") : fmtDuration(age);
    el.textContent = t(kind === "disconnected" ? "stale.disconnected" : "stale.indicators",
      { age: ageText });
    el.dataset.ageS = age === null ? "" : String(Math.round(age));
    el.hidden = false;
    document.body.dataset.stale = kind;
  };

  /* --- formatting ----------------------------------------------------------------------- */

  /* Numbers, times and durations in the reader's language (Intl with i18n.js's locale). */
  var compact = new Intl.NumberFormat(I18N.locale, { notation: "compact", maximumFractionDigits: 1 });
  function fmtNum(v) {
    if (v === null || v === undefined || typeof v !== "number" || !isFinite(v)) return "–";
    return Math.abs(v) >= 1e4 ? compact.format(v) : I18N.num(v);
  }

  var timeFmt = new Intl.DateTimeFormat(I18N.locale,
    { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  var dateTimeFmt = new Intl.DateTimeFormat(I18N.locale, { year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  var shortFmt = new Intl.DateTimeFormat(I18N.locale,
    { weekday: "short", hour: "2-digit", minute: "2-digit", hour12: false });

  function fmtTime(epoch) {
    if (!epoch) return "–";
    return timeFmt.format(new Date(epoch * 1000));
  }

  function fmtDateTime(epoch) {
    if (!epoch) return "–";
    return dateTimeFmt.format(new Date(epoch * 1000));
  }

  /* "Mon 14:00": an hour on a trend axis. */
  function fmtHour(epoch) {
    return shortFmt.format(new Date(epoch * 1000));
  }

  function fmtDuration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "–";
    var s = Math.max(0, Math.round(seconds));
    if (s < 60) return t("dur.s", { n: s });
    var m = Math.round(s / 60);
    if (m < 60) return t("dur.min", { n: m });
    var h = Math.floor(m / 60);
    var rest = m % 60;
    if (h < 48) return rest ? t("dur.h_min", { h: h, m: rest }) : t("dur.h", { n: h });
    return t("dur.d", { n: Math.round(h / 24) });
  }

  function worse(a, b) {
    if (!a) return b || null;
    if (!b) return a;
    return SEV_RANK[a] >= SEV_RANK[b] ? a : b;
  }

  /* The catalog (/api/catalog), indexed. */
  function Catalog(raw) {
    this.raw = raw;
    this.groups = raw.groups.slice().sort(function (a, b) { return a.number - b.number; });
    this.bySlug = {};
    for (var i = 0; i < this.groups.length; i++) {
      var g = this.groups[i];
      g.metricsByName = {};
      for (var j = 0; j < g.metrics.length; j++) g.metricsByName[g.metrics[j].name] = g.metrics[j];
      this.bySlug[g.slug] = g;
    }
    this.districts = raw.districts;
  }
  Catalog.prototype.groupName = function (slug) {
    return I18N.name("group", slug);
  };
  Catalog.prototype.kpiLabel = function (slug, kpi) {
    return I18N.name("kpi", slug + "." + kpi);
  };
  Catalog.prototype.unit = function (slug, metric) {
    var g = this.bySlug[slug];
    var m = g && g.metricsByName[metric];
    return m ? m.unit : "";
  };

  function loadCatalog() {
    return fetchJSON("/api/catalog").then(function (raw) { return new Catalog(raw); });
  }

  /* The clock in a header element, once a second. */
  function startClock(el) {
    function tick() { el.textContent = fmtTime(Date.now() / 1000); }
    tick();
    setInterval(tick, 1000);
  }

  /* Connection status into a pill element: data-state drives its colour. */
  function showStatus(el, state, detail) {
    var word = t("conn." + state);
    el.dataset.state = state;
    el.textContent = word + (detail ? " · " + detail : "");
    el.title = t("conn.title", { state: word }) + (detail ? " (" + detail + ")" : "");
  }

  /* Who a record names, for people to read: the display name it carried, else the login of
   * its "role:login" user, else the role alone (a shared token); "" for no one (the sensors). */
  function who(user, displayName) {
    if (displayName) return displayName;
    if (!user) return "";
    var i = user.indexOf(":");
    return i >= 0 ? user.slice(i + 1) : user;
  }

  /* "acknowledged by Lan Nguyen at 10:32: crew sent": what a person did to an alert (verb),
   * who, when (epoch seconds, or null when not known) and why. */
  function trail(verb, user, displayName, epoch, why) {
    var name = who(user, displayName);
    var text = t("trail." + verb);
    if (name) text = t("trail.by", { verb: text, name: name });
    if (typeof epoch === "number") text = t("trail.at", { text: text, time: fmtTime(epoch) });
    return text + (why ? ": " + why : "");
  }

  window.IOC = {
    SEVERITIES: SEVERITIES, SEV_RANK: SEV_RANK, esc: esc, token: token, forgetToken: forgetToken,
    account: account, toLogin: toLogin,
    fetchJSON: fetchJSON, Connection: Connection, Freshness: Freshness, sparkline: sparkline,
    fmtNum: fmtNum, fmtHour: fmtHour, t: t, i18n: I18N,
    fmtTime: fmtTime, fmtDateTime: fmtDateTime, fmtDuration: fmtDuration, worse: worse,
    Catalog: Catalog, loadCatalog: loadCatalog, startClock: startClock, showStatus: showStatus,
    who: who, trail: trail
  };
})();
