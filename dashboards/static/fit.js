/* Fit to the screen: the page never scrolls; lists scroll inside their own panel (marked
 * data-pages). In kiosk mode (body.kiosk: the wall's K, or ?kiosk=1 on any page) nobody
 * scrolls, so each such list turns a page every PAGE_MS and back to the first after the last;
 * the panel says which page it shows (data-page, data-page-count and a "page 2/5" mark, in the
 * reader's language: the catalogs' fit.page). */
(function () {
  "use strict";

  var PAGE_MS = 10000;
  var query = new URLSearchParams(window.location.search);
  if (query.get("kiosk") === "1" || query.get("kiosk") === "true") {
    document.body.classList.add("kiosk");
    document.documentElement.classList.add("kiosk");
  }

  /* Where each page starts (px from the list's top): a page holds the items (rows of a grid
   * alike) that fit whole below its start; an item taller than the list gets a page alone. */
  function starts(list) {
    var h = list.clientHeight;
    var out = [0];
    if (h <= 0) return out;
    var base = list.firstElementChild ? list.firstElementChild.offsetTop : 0;
    Array.prototype.forEach.call(list.children, function (item) {
      if (item.offsetParent === null) return;
      var top = item.offsetTop - base;
      var start = out[out.length - 1];
      if (top > start && top + item.offsetHeight > start + h) out.push(top);
    });
    return out;
  }

  function pages(list) { return starts(list).length; }

  function show(list, page) {
    list.scrollTop = starts(list)[page - 1] || 0;
  }

  function pageText(page, count) {
    var i18n = window.IOC_I18N;
    var params = { page: String(page), count: String(count) };
    return i18n ? i18n.t("fit.page", params) : page + "/" + count;
  }

  function mark(list, page, count) {
    list.dataset.page = String(page);
    list.dataset.pageCount = String(count);
    var holder = list.closest(".panel");
    var tag = holder ? holder.querySelector(".page-mark") : null;
    if (!tag && holder) {
      tag = document.createElement("span");
      tag.className = "page-mark";
      var heading = holder.querySelector("h2");
      if (heading) heading.appendChild(tag);
    }
    if (tag) {
      tag.hidden = count < 2;
      tag.textContent = pageText(page, count);
    }
  }

  function turn() {
    var kiosk = document.body.classList.contains("kiosk");
    document.querySelectorAll("[data-pages]").forEach(function (list) {
      var count = pages(list);
      if (!kiosk) {
        var at = starts(list).filter(function (s) { return s <= list.scrollTop + 1; }).length;
        mark(list, Math.max(1, at), count);
        return;
      }
      var page = Number(list.dataset.page || 1) % count + 1;
      show(list, page);
      mark(list, page, count);
    });
  }

  // the count follows the content between turns (alerts come and go)
  function recount() {
    document.querySelectorAll("[data-pages]").forEach(function (list) {
      var count = pages(list);
      var page = Math.min(Number(list.dataset.page || 1), count);
      if (document.body.classList.contains("kiosk")) show(list, page);
      mark(list, page, count);
    });
  }

  // the marks are written once the messages are loaded (never the bare key)
  (window.IOC_I18N ? window.IOC_I18N.ready : Promise.resolve()).then(function () {
    setInterval(turn, PAGE_MS);
    setInterval(recount, 1000);
  });
  window.IOCFit = { turn: turn, recount: recount };
})();
