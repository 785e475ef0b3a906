// The organization's active calls, kept up to date from WS /live.
import { api, duration, followLive, serverNow, SPEAKER, DIRECTION, text } from "./live.js";

const tbody = document.querySelector("#calls tbody");
const empty = document.getElementById("no-calls");
const calls = new Map(); // call_sid -> {state, row}

function stateLabel(c) {
  if (c.phase === "live") return "In conversation";
  return { queued: "Queued", initiated: "Dialling", ringing: "Ringing", "in-progress": "Answered" }[c.status] || c.status || "—";
}

function render(sid) {
  const entry = calls.get(sid);
  const c = entry.state;
  const cells = entry.row.cells;
  const link = cells[0].querySelector("a");
  link.href = `/live/calls/${encodeURIComponent(c.call_ref || sid)}`;
  link.textContent = c.debtor_name || (c.direction === "inbound" ? "Unknown caller" : "Unknown");
  text(cells[1], c.account_reference || c.account_id);
  text(cells[2], c.number);
  text(cells[3], DIRECTION[c.direction] || c.direction);
  text(cells[4], stateLabel(c));
  text(cells[6], c.phase === "live" ? SPEAKER[c.speaker || ""] : "—");
  tick(entry);
}

function tick(entry) {
  const c = entry.state;
  const since = c.phase === "live" ? c.started_at : c.created_at;
  entry.row.cells[5].textContent = since ? duration(serverNow() - since) : "—";
}

function upsert(sid) {
  let entry = calls.get(sid);
  if (!entry) {
    const row = tbody.insertRow();
    row.id = `call-${sid}`;
    row.dataset.callSid = sid;
    const first = document.createElement("th");
    first.scope = "row";
    first.appendChild(document.createElement("a"));
    row.appendChild(first);
    for (let i = 0; i < 6; i++) row.insertCell().className = i === 4 ? "num" : "";
    entry = { state: {}, row };
    calls.set(sid, entry);
    empty.hidden = true;
  }
  return entry;
}

function remove(sid) {
  const entry = calls.get(sid);
  if (!entry) return;
  entry.row.remove();
  calls.delete(sid);
  empty.hidden = calls.size > 0;
}

async function fill(sid) {
  try {
    const call = await api("GET", `/api/calls/${encodeURIComponent(sid)}`);
    if (!calls.has(sid)) return;
    if (call.ended_at) { remove(sid); return; }
    const entry = calls.get(sid);
    entry.state = { ...call, number: call.direction === "inbound" ? call.from : call.to, ...entry.state };
    render(sid);
  } catch (_) { /* gone, or not ours: the next event will tell */ }
}

function onEvent(event) {
  const sid = event.call_sid;
  const d = event.data;
  if (event.type === "call.ended") { remove(sid); return; }
  const known = calls.has(sid);
  const entry = upsert(sid);
  const c = entry.state;
  switch (event.type) {
    case "call.snapshot": case "call.created": Object.assign(c, d); break;
    case "call.started": Object.assign(c, d, { phase: "live", started_at: event.ts }); break;
    case "stream.started": c.phase = "live"; c.started_at = c.started_at || event.ts; break;
    case "call.status": if (d.status !== "amd") c.status = d.status; break;
    case "speaker": c.speaker = d.speaker; break;
    default: if (known) return;
  }
  render(sid);
  if (!known && !c.call_ref) fill(sid);
}

function reset() {
  for (const sid of [...calls.keys()]) remove(sid);
}

followLive({}, { onEvent, onReset: reset, statusEl: document.getElementById("connection") });
setInterval(() => calls.forEach(tick), 1000);

const form = document.getElementById("start-call");
if (form) {
  const error = document.getElementById("start-error");
  form.addEventListener("submit", async (submit) => {
    submit.preventDefault();
    error.textContent = "";
    const data = new FormData(form);
    const body = { account_id: data.get("account_id").trim(), opening_mode: data.get("opening_mode") };
    const to = data.get("to").trim();
    if (to) body.to = to;
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const call = await api("POST", "/api/calls", body);
      location.assign(`/live/calls/${encodeURIComponent(call.call_ref)}`);
    } catch (e) {
      error.textContent = `The call was not placed: ${e.message}`;
      button.disabled = false;
    }
  });
}
