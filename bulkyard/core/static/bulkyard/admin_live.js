// Keeps the staff's job page whole while the job runs: its status, chunks
// and summary parts, and which of its buttons apply. live.js follows the
// job's WebSocket and announces each message as a "bulkyard:job" event; each
// one (at most one a second) fetches the parts again, rendered by the server
// (admin_page.live_parts_view). A slow poll covers a socket that is down.
(function () {
  "use strict";
  const root = document.querySelector("[data-live-parts]");
  if (!root) return;
  const url = root.dataset.liveParts;
  const MIN_GAP_MS = 1000;
  const POLL_MS = 10000;
  let finished = root.dataset.finished === "true";
  let inFlight = false;
  let again = false;
  let last = 0;
  let timer = null;
  let poller = null;

  function apply(data) {
    Object.keys(data.parts).forEach(function (name) {
      document.querySelectorAll('[data-live-part="' + name + '"]').forEach(function (el) {
        el.innerHTML = data.parts[name];
      });
    });
    Object.keys(data.controls).forEach(function (name) {
      document.querySelectorAll('[data-control="' + name + '"]').forEach(function (el) {
        el.hidden = !data.controls[name];
      });
    });
    root.dataset.status = data.status;
    if (data.finished) {
      finished = true;
      root.dataset.finished = "true";
      if (poller !== null) clearInterval(poller);
    }
  }
  function refresh() {
    if (inFlight) {
      again = true;
      return;
    }
    const wait = last + MIN_GAP_MS - Date.now();
    if (wait > 0) {
      if (timer === null) {
        timer = setTimeout(function () {
          timer = null;
          refresh();
        }, wait);
      }
      return;
    }
    inFlight = true;
    last = Date.now();
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (data) apply(data);
      })
      .catch(function () {
        // The server is away: the next event or poll tries again.
      })
      .finally(function () {
        inFlight = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }
  document.addEventListener("bulkyard:job", function () {
    if (!finished) refresh();
  });
  if (!finished) {
    poller = setInterval(refresh, POLL_MS);
  }
})();
