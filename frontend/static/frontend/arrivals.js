// Live regions: an element with data-live-url is refreshed in place every two seconds.
// The server sends the region's HTML with an X-Live-Digest header; the region is replaced only
// when the digest changed, and items (data-key) that were not there before are highlighted.
// X-Live-Final: 1 means nothing more will change by itself (a complete study): polling stops.
(function () {
  "use strict";

  var INTERVAL_MS = 2000;
  var indicator = document.querySelector("[data-live-indicator]");

  function say(state, text) {
    if (!indicator) return;
    indicator.dataset.state = state;
    indicator.querySelector("[data-live-text]").textContent = text;
  }

  function keys(region) {
    var found = new Set();
    region.querySelectorAll("[data-key]").forEach(function (el) {
      found.add(el.dataset.key);
    });
    return found;
  }

  function watch(region) {
    var url = region.dataset.liveUrl;
    var digest = region.dataset.liveDigest || "";
    var timer = null;
    var busy = false;

    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(poll, INTERVAL_MS);
    }

    function apply(html, newDigest) {
      var before = keys(region);
      region.innerHTML = html;
      digest = newDigest;
      region.dataset.liveDigest = newDigest;
      region.querySelectorAll("[data-key]").forEach(function (el) {
        if (!before.has(el.dataset.key)) el.classList.add("is-new");
      });
    }

    function poll() {
      if (document.hidden) {
        say("paused", "Paused");
        return; // resumed by visibilitychange
      }
      if (busy) return schedule();
      busy = true;
      fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } })
        .then(function (response) {
          var newDigest = response.headers.get("X-Live-Digest");
          if (!response.ok || !newDigest) {
            // Signed out (the login page came back) or refused: stop and say so.
            throw Object.assign(new Error("signed out"), { fatal: true });
          }
          var final = response.headers.get("X-Live-Final") === "1";
          return response.text().then(function (html) {
            if (newDigest !== digest) apply(html, newDigest);
            return final;
          });
        })
        .then(function (final) {
          busy = false;
          if (final) {
            region.setAttribute("data-live-final", "");
            say("done", "Up to date");
            return;
          }
          say("live", "Live");
          schedule();
        })
        .catch(function (error) {
          busy = false;
          if (error.fatal) {
            say("offline", "Signed out — reload the page");
            return;
          }
          say("offline", "Connection lost — retrying");
          schedule();
        });
    }

    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && !region.hasAttribute("data-live-final")) poll();
    });
    if (!region.hasAttribute("data-live-final")) schedule();
  }

  document.querySelectorAll("[data-live-url]").forEach(watch);
})();
