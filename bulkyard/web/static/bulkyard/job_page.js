// The user's job page: when live.js says the job has finished (its
// "bulkyard:job-finished" event), load the job's timings and report
// (/jobs/<id>/report/, HTML) into [data-job-report]. A file, not inline: the
// Content-Security-Policy allows only scripts from 'self'.
(function () {
  "use strict";
  const holder = document.querySelector("[data-job-report]");
  if (!holder) return;
  let loading = false;
  document.addEventListener("bulkyard:job-finished", function () {
    // Rendered with the page when the job had finished already; and the
    // socket and the API poll may both tell of the end.
    if (loading || holder.querySelector("#report")) return;
    loading = true;
    fetch(holder.dataset.jobReport, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        // A session that ended meanwhile is redirected to the login page:
        // that is no report, and must not land inside this one.
        return response.ok && !response.redirected ? response.text() : null;
      })
      .then(function (html) {
        // Our own server's fragment, escaped by its templates.
        if (html !== null) holder.innerHTML = html;
      })
      .catch(function () {
        // Offline: a reload shows the report.
      })
      .finally(function () {
        loading = false;
      });
  });
})();
