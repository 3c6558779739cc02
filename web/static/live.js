// The page's live signals (web/events.py), without inline script: a banner while the stream is
// down or the projections are stalled, a reload when the read models were rebuilt (resync), and
// a polite announcement when a region was brought up to date.
(() => {
  const show = (id, on) => { const el = document.getElementById(id); if (el) el.hidden = !on; };
  const announce = (text) => { const el = document.getElementById("announce"); if (el) el.textContent = text; };
  document.addEventListener("DOMContentLoaded", () => {
    const live = document.getElementById("live");
    if (!live) return;
    live.addEventListener("htmx:sse:error", () => show("stream-down", true));
    live.addEventListener("htmx:error", () => show("stream-down", true));  // the first connection failed
    live.addEventListener("htmx:sse:after:connection", () => show("stream-down", false));
    live.addEventListener("stalled", () => show("stalled", true));
    live.addEventListener("flowing", () => show("stalled", false));
    live.addEventListener("resync", () => window.location.reload());
    const topics = ["board", "member", "allocation", "account",  // web/signals.py
      "boards", "allocations", "accounts", "members", "payables", "calibration", "audit"];
    for (const name of topics) {
      live.addEventListener(name, (e) => announce("Updated at position " + ((e.detail || {}).id || "")));
    }
  });
})();
