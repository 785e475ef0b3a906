// Shared helpers of the live pages: the operator API, the live socket, formatting.

const meta = document.querySelector('meta[name="csrf-token"]');
export const csrf = meta ? meta.content : "";
export const role = document.body.dataset.role || "viewer";
const RANK = { viewer: 0, operator: 1, admin: 2 };
export const may = (needed) => RANK[role] >= RANK[needed];

// The page's clock minus the server's, learnt from history.end (seconds).
let clockSkew = 0;
export const serverNow = () => Date.now() / 1000 - clockSkew;

/** Calls the operator API with the session cookie (and the CSRF token for changes). */
export async function api(method, path, body) {
  const headers = { "X-CSRF-Token": csrf };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = {};
  try { data = await response.json(); } catch (_) { /* no JSON body */ }
  if (!response.ok) {
    const fields = (data.errors || []).map((e) => `${e.field}: ${e.reason}`).join("; ");
    const error = new Error([data.error || `HTTP ${response.status}`, fields].filter(Boolean).join(" — "));
    error.status = response.status;
    throw error;
  }
  return data;
}

/**
 * Follows WS /live (with history), reconnecting by itself. On each (re)connection
 * `onReset()` is called before the history is replayed, so a view can start afresh.
 */
export function followLive(params, { onEvent, onReset, onCaughtUp, statusEl }) {
  let delay = 500;
  let stopped = false;
  const setStatus = (text, degraded) => {
    if (!statusEl) return;
    statusEl.textContent = text;
    statusEl.classList.toggle("degraded", Boolean(degraded));
  };
  const open = () => {
    const query = new URLSearchParams({ ...params, history: "1" });
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/live?${query}`);
    let resync = false;
    ws.onopen = () => { delay = 500; onReset(); };
    ws.onmessage = (message) => {
      if (resync) return; // what follows a gap is replaced by a fresh history
      const event = JSON.parse(message.data);
      if (event.type === "history.end") {
        if (typeof event.data.server_time === "number") {
          clockSkew = Date.now() / 1000 - event.data.server_time;
        }
        setStatus("Live: updates appear as they happen.");
        if (onCaughtUp) onCaughtUp();
        return;
      }
      if (event.type === "lagged") {
        // The gateway dropped updates this page was too slow to read: start again
        // from the calls as they are now, at once.
        setStatus("Some updates were missed while this page was busy; catching up…", true);
        resync = true;
        ws.close();
        return;
      }
      onEvent(event);
    };
    ws.onclose = (close) => {
      if (stopped) return;
      if (resync) { open(); return; }
      if (close.code === 1008) {
        setStatus("Your session has ended. Sign in again to follow the calls.", true);
        return;
      }
      setStatus("Connection to the gateway lost; reconnecting…", true);
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 10000);
    };
  };
  open();
  return () => { stopped = true; };
}

export function duration(seconds) {
  if (!Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.floor(seconds)); // clocks a few ms apart must not show "—"
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, "0")}`;
}

export const SPEAKER = { agent: "Agent", caller: "Caller", "": "Nobody" };
export const DIRECTION = { outbound: "Outbound", inbound: "Inbound" };

export function text(el, value) { el.textContent = value === undefined || value === null || value === "" ? "—" : String(value); }
