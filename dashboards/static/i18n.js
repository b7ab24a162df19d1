/* ioc-monitor pages in Vietnamese (the city's default) or English: the reader's choice is kept
 * in localStorage ("ioc.lang") and in the "ioc_lang" cookie (the server reads it to write the
 * login page); the messages come from GET /i18n/<lang> (ioc/locale/*.json plus the catalog's
 * names), the same catalogs the server renders from (ioc/i18n.py), with the same rules for
 * message parameters: metric, district, group and source are names to look up, unit follows a
 * number ("%" sticks to it), other numbers are written in the language's way.
 *
 * IOC_I18N.ready            a promise: the messages are loaded and the page's static text
 *                           (data-i18n, data-i18n-title, -placeholder, -aria-label) is written
 * IOC_I18N.t(key, params)   a message
 * IOC_I18N.render(parts)    an alert title's {key, params}
 * IOC_I18N.num(v)           a number (34, 5.2, 0.35, 1,250 / 1.250)
 * IOC_I18N.name(kind, id)   "group"/"district"/"metric"/"kind" names; kpi: ("kpi", "g.k")
 * IOC_I18N.setLang(lang)    switch and remember (reloads the page)
 * A #btn-lang button, when the page has one, switches to the other language. */
(function () {
  "use strict";
  var KEY = "ioc.lang", COOKIE = "ioc_lang", LANGS = ["vi", "en"], DEFAULT = "vi";
  var NAMES = { metric: true, district: true, group: true, source: true };

  function fromCookie() {
    var parts = document.cookie.split(";");
    for (var i = 0; i < parts.length; i++) {
      var kv = parts[i].trim().split("=");
      if (kv[0] === COOKIE) return kv[1];
    }
    return null;
  }

  function stored() {
    try { return localStorage.getItem(KEY); } catch (e) { return null; }
  }

  var lang = stored() || fromCookie();
  if (LANGS.indexOf(lang) < 0) lang = DEFAULT;
  var locale = lang === "vi" ? "vi-VN" : "en-GB";
  document.documentElement.lang = lang;

  function remember(l) {
    try { localStorage.setItem(KEY, l); } catch (e) { /* private mode: the cookie still has it */ }
    document.cookie = COOKIE + "=" + l + "; path=/; max-age=31536000; SameSite=Lax";
  }
  remember(lang);

  var messages = {};
  var missing = {};

  function fill(text, params) {
    return text.replace(/\{(\w+)\}/g, function (all, name) {
      return Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : all;
    });
  }

  function t(key, params) {
    var text = messages[key];
    if (text === undefined) {
      missing[key] = true;
      document.documentElement.dataset.i18nMissing = Object.keys(missing).join(" ");
      text = key;
    }
    return params ? fill(text, params) : text;
  }

  var formats = {};
  function num(v) {
    if (typeof v !== "number" || !isFinite(v)) return "?";
    var a = Math.abs(v);
    var digits = a >= 100 ? 0 : a >= 10 ? 1 : 2;
    var f = formats[digits] || (formats[digits] = new Intl.NumberFormat(locale,
      { maximumFractionDigits: digits }));
    var r = Math.round(v * Math.pow(10, digits)) / Math.pow(10, digits);
    return f.format(r === 0 ? 0 : r);
  }

  var prefixes = null;  // source id prefix -> kind name (the catalog's "kinds")

  function sourceName(id) {
    var m = /^([^-]+)-.*-(\w+)$/.exec(String(id));
    if (!m || !prefixes || !prefixes[m[1]]) return String(id);
    return t("kind." + prefixes[m[1]]) + " " + m[2];
  }

  function name(kind, id) {
    if (kind === "source") return sourceName(id);
    var key = kind + "." + id;
    if (messages[key] !== undefined) return messages[key];
    return kind === "metric" ? String(id).replace(/_/g, " ").replace(/^./, function (c) {
      return c.toUpperCase();
    }) : String(id);
  }

  function param(pname, value) {
    if (NAMES[pname]) return name(pname, value);
    if (pname === "unit") return !value ? "" : value === "%" ? "%" : " " + value;
    if (typeof value === "number") return num(value);
    return value === null || value === undefined ? "" : String(value);
  }

  function render(parts) {
    var params = {};
    var given = (parts && parts.params) || {};
    Object.keys(given).forEach(function (k) { params[k] = param(k, given[k]); });
    return t(parts.key, params);
  }

  function apply(root) {
    (root || document).querySelectorAll("[data-i18n]").forEach(function (el) {
      el.textContent = t(el.getAttribute("data-i18n"));
    });
    ["title", "placeholder", "aria-label"].forEach(function (attr) {
      (root || document).querySelectorAll("[data-i18n-" + attr + "]").forEach(function (el) {
        el.setAttribute(attr, t(el.getAttribute("data-i18n-" + attr)));
      });
    });
    var title = document.querySelector("title[data-i18n]");
    if (title) document.title = title.textContent;
  }

  function setLang(l) {
    if (LANGS.indexOf(l) < 0) return;
    remember(l);
    window.location.reload();
  }

  function wireSwitch() {
    var btn = document.getElementById("btn-lang");
    if (!btn) return;
    btn.textContent = t("lang.switch");
    btn.title = t("lang.switch.title");
    btn.setAttribute("lang", lang === "vi" ? "en" : "vi");
    btn.addEventListener("click", function () { setLang(lang === "vi" ? "en" : "vi"); });
  }

  var ready = fetch("/i18n/" + lang, { cache: "no-cache" }).then(function (resp) {
    if (!resp.ok) throw new Error("/i18n/" + lang + ": HTTP " + resp.status);
    return resp.json();
  }).then(function (body) {
    messages = body.messages || {};
    prefixes = body.kinds || {};
  }, function () { /* no catalog: the English text of the HTML stays */ })
    .then(function () {
      if (Object.keys(messages).length) apply(document);
      wireSwitch();
      document.documentElement.dataset.i18n = lang;
    });

  window.IOC_I18N = {
    lang: lang, locale: locale, ready: ready, t: t, render: render, num: num, name: name,
    apply: apply, setLang: setLang, sourceName: sourceName
  };
})();
