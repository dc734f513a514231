// Starts ReDoc on #redoc-container (bulkyard/api_docs/redoc.html). Loaded
// before ReDoc's bundle, with the response's nonce.
//
// ReDoc styles itself with <style> elements it makes at run time, which the
// page's Content-Security-Policy admits only with that nonce. ReDoc puts it on
// those of styled-components (its `nonce` option), but a stylesheet its bundle
// inserts as it loads (perfect-scrollbar's) comes before any option could be
// given. So every <style> made through document.createElement from here on
// carries the nonce: scripts run only from this origin anyway, and markup
// injected into the page is parsed, not created this way, so gains nothing.
(function () {
  "use strict";
  const nonce = document.currentScript.nonce;
  const createElement = document.createElement;
  document.createElement = function (name, options) {
    const element = createElement.call(this, name, options);
    if (String(name).toLowerCase() === "style") {
      element.nonce = nonce;
    }
    return element;
  };
  document.addEventListener("DOMContentLoaded", function () {
    const container = document.getElementById("redoc-container");
    Redoc.init(container.dataset.schemaUrl, { nonce: nonce }, container);
  });
})();
