// Follows a job over its WebSocket and keeps the page's numbers current.
// Elements: [data-job-ws="/ws/jobs/<id>/"] on a container, [data-job-field=name]
// for values, [data-job-bar] on a <progress>, [data-job-badge] on the status;
// when the job ends, a "bulkyard:job-finished" event on the document. No
// framework, no CDN, nothing inline: the page's Content-Security-Policy allows
// only scripts from 'self'.
(function () {
  "use strict";
  const root = document.querySelector("[data-job-ws]");
  if (!root) return;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const url = scheme + "//" + location.host + root.dataset.jobWs;
  const finished = ["succeeded", "completed_with_errors", "failed", "cancelled"];
  const api = root.dataset.jobApi;
  const POLL_MS = 3000;
  let delay = 1000;
  let polling = null;
  const labels = {
    connecting: "connecting…",
    live: "live",
    reconnecting: "reconnecting…",
    polling: "reconnecting… (updated every few seconds meanwhile)",
    finished: "finished",
    closed: "not live: reload the page",
  };

  function connection(state) {
    root.dataset.connection = state;
    document.querySelectorAll(".by-connection").forEach(function (el) {
      el.textContent = labels[state] || state;
    });
    if (state === "finished") {
      document.querySelectorAll("[data-hide-when-finished]").forEach(function (el) {
        el.hidden = true;
      });
    }
  }

  function number(value) {
    return value === null || value === undefined ? "–" : Number(value).toLocaleString("en");
  }
  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    seconds = Math.round(seconds);
    if (seconds < 60) return seconds + " s";
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min " + (seconds % 60) + " s";
    return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }
  // Shows the elements meant for this status ([data-show-when-status="queued
  // running"]: the pause button; "paused": the resume button), hides the rest.
  function status(value) {
    // The bar's colour follows data-status (bulkyard.css); the badge's, its class.
    root.dataset.status = value;
    set("status", value.replace(/_/g, " "));
    root.querySelectorAll("[data-job-badge]").forEach(function (el) {
      el.className = "by-badge by-status-" + value;
    });
    document.querySelectorAll("[data-show-when-status]").forEach(function (el) {
      el.hidden = !el.dataset.showWhenStatus.split(" ").includes(value);
    });
    if (value === "paused") set("eta", "paused");
  }
  function set(field, text) {
    root.querySelectorAll('[data-job-field="' + field + '"]').forEach(function (el) {
      el.textContent = text;
    });
  }
  function show(state) {
    const percent = state.percent === null || state.percent === undefined ? 0 : state.percent;
    root.querySelectorAll("[data-job-bar]").forEach(function (bar) {
      bar.value = percent;
    });
    set("percent", percent.toFixed(1) + "%");
    ["processed_items", "succeeded_items", "failed_items", "total_items"].forEach(function (f) {
      set(f, number(state[f]));
    });
    set("items_per_second", number(state.items_per_second && Math.round(state.items_per_second)));
    set("eta", finished.includes(state.status) ? "done" : duration(state.eta_seconds));
    if (state.status) status(state.status);
  }
  function flatten(job) {
    return Object.assign({}, job, job.progress);
  }
  function ended(job) {
    show(flatten(job));
    // A job-level file (an export) exists only once the job has finished.
    if (job.links && job.links.output) {
      document.querySelectorAll("[data-job-output]").forEach(function (link) {
        link.hidden = false;
      });
    }
    // So do the items a cancel left, in the input's format.
    if (job.links && job.links.unprocessed) {
      document.querySelectorAll("[data-job-unprocessed]").forEach(function (link) {
        link.hidden = false;
      });
    }
    stopPolling();
    connection("finished");
    // For the page's other parts (the user's page loads the job's report).
    document.dispatchEvent(new CustomEvent("bulkyard:job-finished", { detail: job }));
  }
  function poll() {
    fetch(api, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (job) {
        if (!job || polling === null) return;
        if (finished.includes(job.status)) ended(job);
        else show(flatten(job));
      })
      .catch(function () {
        // The API is away too: the next poll or the socket will tell.
      });
  }
  function startPolling() {
    if (!api || polling !== null) return;
    polling = setInterval(poll, POLL_MS);
    poll();
  }
  function stopPolling() {
    if (polling === null) return;
    clearInterval(polling);
    polling = null;
  }
  function connect() {
    if (root.dataset.connection === "finished") return;
    const socket = new WebSocket(url);
    socket.onopen = function () {
      stopPolling();
      connection("live");
    };
    socket.onmessage = function (event) {
      // Back-off resets only once the server really streams: a server that
      // accepts and then fails at once must not be retried every second.
      delay = 1000;
      const message = JSON.parse(event.data);
      document.dispatchEvent(new CustomEvent("bulkyard:job", { detail: message }));
      if (message.type === "job.snapshot" || message.type === "job.finished") {
        show(flatten(message.job));
      } else if (message.type === "job.progress") {
        show(message);
      } else if (message.type === "job.status") {
        // Only the status changed: the counters on the page stay as they are.
        status(message.status);
      }
      if (message.type === "job.finished") ended(message.job);
    };
    socket.onclose = function (event) {
      if (event.code === 1000 || event.code >= 4000) {
        if (root.dataset.connection !== "finished") connection("closed");
        return;
      }
      if (root.dataset.connection === "finished") return;
      startPolling();
      connection(api ? "polling" : "reconnecting");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    };
  }
  connect();
})();
