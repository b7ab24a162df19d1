/* The sign-in page. A shared-token link (#token=... in the address, the demo's links) signs
 * this tab in with that token: the token goes into the form's hidden field and the form is
 * posted once; a refused token is not posted again. A token can also be pasted into the
 * second form (no native prompt anywhere). The token stays in this tab's sessionStorage (as
 * the pages keep it) and leaves the address bar. The language button switches the page
 * between Vietnamese and English and remembers the choice (localStorage and the "ioc_lang"
 * cookie the server writes this page by, as the other pages do: i18n.js). */
(function () {
  "use strict";
  var TOKEN_KEY = "ioc.token";
  var form = document.getElementById("login-form");

  var lang = document.documentElement.lang === "en" ? "en" : "vi";
  document.getElementById("btn-lang").addEventListener("click", function () {
    var next = lang === "vi" ? "en" : "vi";
    try { localStorage.setItem("ioc.lang", next); } catch (e) { /* the cookie still has it */ }
    document.cookie = "ioc_lang=" + next + "; path=/; max-age=31536000; SameSite=Lax";
    window.location.reload();
  });

  function signInWith(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    document.getElementById("login-token").value = token;
    form.submit();
  }

  document.getElementById("token-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var token = document.getElementById("token-input").value.trim();
    if (token) signInWith(token);
  });

  var hash = window.location.hash.replace(/^#/, "");
  var fromUrl = hash ? new URLSearchParams(hash).get("token") : null;
  if (fromUrl) {
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  if (document.body.dataset.refused === "token") {
    sessionStorage.removeItem(TOKEN_KEY);
    return;
  }
  if (document.body.dataset.refused || !fromUrl) return;
  signInWith(fromUrl);
})();
