// Live refresh of the part of a page marked data-live="SECONDS" (overview, site page).
// Plain JavaScript, no library; without JavaScript the pages work and are reloaded by hand.
// A round is skipped while the page is hidden or while the keyboard focus is inside the
// refreshed part, so nobody loses their place.
(function () {
  "use strict";
  var box = document.getElementById("live");
  if (!box || !window.fetch) { return; }
  var seconds = parseInt(box.getAttribute("data-live"), 10) || 30;
  function refresh() {
    if (document.hidden || box.contains(document.activeElement)) { return; }
    fetch(window.location.href, { headers: { "X-Relais-Partial": "1" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) { box.innerHTML = html; } })
      .catch(function () { /* the next round tries again */ });
  }
  window.setInterval(refresh, seconds * 1000);
})();
