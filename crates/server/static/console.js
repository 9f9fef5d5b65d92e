// Countersign console: live updates of an open call screen over server-sent events. The panel
// is replaced in place (a polite live region); focus never moves; a rise to high or critical
// risk is announced once in the alert region; updates can be paused (WCAG 2.2.2).
(function () {
  "use strict";
  var panel = document.getElementById("panel");
  if (!panel || !window.EventSource) return;
  var pause = document.getElementById("pause");
  var state = document.getElementById("live-state");
  var alertBox = document.getElementById("risk-alert");
  var rank = { low: 0, medium: 1, high: 2, critical: 3 };
  var paused = false;
  var pending = null;
  function body() { return panel.querySelector(".panel-body"); }
  function revisionOf(el) { return el ? Number(el.getAttribute("data-revision")) : 0; }
  function apply(html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html;
    var next = tpl.content.querySelector(".panel-body");
    var current = body();
    if (!next || revisionOf(next) <= revisionOf(current)) return;
    var before = current ? current.getAttribute("data-band") : "low";
    var after = next.getAttribute("data-band");
    var focused = document.activeElement;
    var focusId = focused && panel.contains(focused) ? focused.id : null;
    var open = current && current.querySelector("details") && current.querySelector("details").open;
    panel.replaceChildren(next);
    if (open && next.querySelector("details")) next.querySelector("details").open = true;
    if (focusId && document.getElementById(focusId)) document.getElementById(focusId).focus({ preventScroll: true });
    if ((rank[after] || 0) >= 2 && (rank[after] || 0) > (rank[before] || 0)) {
      var h = next.querySelector(".verdict");
      alertBox.textContent = "Risk is now " + after.toUpperCase() + ": " + (h ? h.textContent.trim() : "");
    }
  }
  var source = new EventSource(panel.getAttribute("data-events"));
  source.addEventListener("panel", function (e) {
    if (paused) { pending = e.data; return; }
    apply(e.data);
  });
  source.addEventListener("error", function () { if (state) state.textContent = "Live updates reconnecting…"; });
  source.addEventListener("open", function () { if (state) state.textContent = paused ? "Live updates paused." : "Live updates on."; });
  if (pause) {
    pause.hidden = false;
    pause.addEventListener("click", function () {
      paused = !paused;
      pause.setAttribute("aria-pressed", String(paused));
      pause.textContent = paused ? "Resume live updates" : "Pause live updates";
      if (state) state.textContent = paused ? "Live updates paused." : "Live updates on.";
      if (!paused && pending) { apply(pending); pending = null; }
    });
  }
})();
