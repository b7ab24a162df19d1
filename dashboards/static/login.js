/* The sign-in page. A shared-token link (#token=... in the address, the demo's links) signs
 * this tab in with that token: the token goes into the form's hidden field and the form is
 * posted once; a refused token is not posted again. The token stays in this tab's
 * sessionStorage (as the pages keep it) and leaves the address bar. */
(function () {
  "use strict";
  var TOKEN_KEY = "ioc.token";
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
  sessionStorage.setItem(TOKEN_KEY, fromUrl);
  document.getElementById("login-token").value = fromUrl;
  document.getElementById("login-form").submit();
})();
