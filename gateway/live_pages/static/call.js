// One call: its card, its live transcript and events, listen in, step in.
import { api, duration, followLive, may, serverNow, SPEAKER, DIRECTION, text } from "./live.js";
import { Listener } from "./listen.js";

const sid = document.body.dataset.callSid;
const ref = document.body.dataset.callRef;
const timeline = document.getElementById("timeline");
const tentative = document.getElementById("caller-speaking");
const actionStatus = document.getElementById("action-status");
const field = (name) => document.getElementById(`f-${name}`);
let call = {};
let agentLines = new Map(); // event_id -> li

function stateLabel() {
  if (call.phase === "ended") return "Ended";
  if (call.phase === "live") return "In conversation";
  return { queued: "Queued", initiated: "Dialling", ringing: "Ringing", "in-progress": "Answered" }[call.status] || call.status || "—";
}

function showCard() {
  const name = call.debtor_name || (call.direction === "inbound" ? "Unknown caller" : "Unknown");
  document.getElementById("title-debtor").textContent = name;
  text(field("account"), call.account_reference || call.account_id);
  text(field("debtor"), call.debtor_name);
  text(field("number"), call.number);
  text(field("direction"), DIRECTION[call.direction] || call.direction);
  text(field("state"), stateLabel());
  text(field("speaker"), call.phase === "live" ? SPEAKER[call.speaker || ""] : "—");
  field("sentiment").textContent = call.sentiment || "not known";
  text(field("end"), call.end_reason ? `${call.end_reason} (${call.outcome || "—"})` : "");
  tickDuration();
  const hangup = document.getElementById("hangup");
  if (hangup) hangup.disabled = call.phase === "ended";
  const transferButton = document.querySelector("#transfer button");
  if (transferButton && call.phase === "ended") transferButton.disabled = true;
  document.getElementById("listen").disabled = call.phase === "ended" && !listener;
}

function tickDuration() {
  const since = call.started_at || call.created_at;
  const until = call.ended_at || serverNow();
  field("duration").textContent = since ? duration(until - since) : "—";
}

function entry(kind, cls, who, body, ts) {
  const li = document.createElement("li");
  li.className = cls;
  li.dataset.kind = kind;
  if (ts && call.started_at) {
    const at = document.createElement("span");
    at.className = "at";
    at.textContent = duration(ts - call.started_at);
    li.appendChild(at);
    li.appendChild(document.createTextNode(" "));
  }
  const label = document.createElement("span");
  label.className = "who";
  label.textContent = `${who}:`;
  li.appendChild(label);
  li.appendChild(document.createTextNode(" "));
  const content = document.createElement("span");
  content.className = "text";
  content.textContent = body;
  li.appendChild(content);
  timeline.appendChild(li);
  return li;
}

function correct(d) {
  let li = agentLines.get(d.event_id);
  if (!li) {
    li = [...timeline.querySelectorAll('li[data-kind="agent"]')].reverse()
      .find((x) => x.dataset.original === d.original);
  }
  if (!li) return;
  const content = li.querySelector(".text");
  content.textContent = "";
  const heard = document.createElement("span");
  heard.textContent = d.corrected;
  content.appendChild(heard);
  const original = d.original || "";
  const rest = original.startsWith(d.corrected) ? original.slice(d.corrected.length) : original;
  if (rest.trim()) {
    const cut = document.createElement("del");
    cut.textContent = rest;
    cut.setAttribute("aria-label", `not heard: ${rest}`);
    content.appendChild(document.createTextNode(" "));
    content.appendChild(cut);
  }
  li.dataset.cut = "true";
}

function json(value) {
  try { return JSON.stringify(value); } catch (_) { return String(value); }
}

function onEvent(event) {
  const d = event.data;
  switch (event.type) {
    case "call.snapshot": case "call.created": Object.assign(call, d); break;
    case "call.started": Object.assign(call, d, { phase: "live", started_at: event.ts }); break;
    case "stream.started": call.phase = "live"; call.started_at = call.started_at || event.ts; break;
    case "call.status":
      if (d.status === "amd") entry("amd", "event", "Answered by", d.answered_by, event.ts);
      else call.status = d.status;
      break;
    case "speaker": call.speaker = d.speaker; break;
    case "sentiment": call.sentiment = d.score === undefined ? d.sentiment : `${d.sentiment} (${d.score})`; break;
    case "agent": {
      const li = entry("agent", "agent", "Agent", d.text, event.ts);
      li.dataset.original = d.text;
      agentLines.set(d.event_id, li);
      break;
    }
    case "agent_correction": correct(d); break;
    case "caller_tentative": tentative.textContent = `Caller is speaking: “${d.text}…”`; break;
    case "caller":
      tentative.textContent = "";
      entry("caller", "caller", "Caller", d.text, event.ts);
      break;
    case "interruption":
      entry("interruption", "event", "Interruption",
        `the caller spoke over the agent (${Number(d.heard_s || 0).toFixed(1)} s of its line heard)`, event.ts);
      break;
    case "dtmf": entry("dtmf", "event", "Keypad", `the caller pressed ${d.digit}`, event.ts); break;
    case "tool_call": {
      const li = entry("tool_call", "tool", "Tool call", `${d.name}(${json(d.parameters)})`, event.ts);
      li.dataset.toolCallId = d.tool_call_id;
      break;
    }
    case "tool_result": {
      const call_ = timeline.querySelector(`li[data-tool-call-id="${CSS.escape(d.tool_call_id)}"] .text`);
      const name = call_ ? call_.textContent.split("(")[0] : "tool";
      const li = entry("tool_result", "tool", d.is_error ? "Tool error" : "Tool result", `${name}: ${d.result}`, event.ts);
      li.dataset.toolCallId = d.tool_call_id;
      break;
    }
    case "agent_tool":
      entry("agent_tool", "tool", d.is_error ? "Agent tool failed" : "Agent tool", `${d.name} (${d.type})`, event.ts);
      break;
    case "agent_error": entry("agent_error", "event", "Agent error", `${d.code}: ${d.message}`, event.ts); break;
    case "agent_reconnecting": entry("agent_reconnecting", "event", "Agent", "connection lost; reconnecting", event.ts); break;
    case "transfer": entry("transfer", "event", "Transfer", `to ${d.number}, after the agent's last words`, event.ts); break;
    case "call.ended":
      Object.assign(call, { phase: "ended", speaker: "", end_reason: d.reason, outcome: d.outcome, ended_at: event.ts });
      tentative.textContent = "";
      entry("ended", "event", "Call ended", `${d.reason} (${d.outcome})`, event.ts);
      break;
    default: return;
  }
  showCard();
}

function reset() {
  timeline.textContent = "";
  tentative.textContent = "";
  agentLines = new Map();
  call = { ...baseline };
  showCard();
}

// What the operator API says of the call: the card when the events are no longer
// kept here (an old call), and its final transcript.
let baseline = {};
let caughtUp = false;
async function loadRecord() {
  try {
    const r = await api("GET", `/api/calls/${encodeURIComponent(ref)}`);
    baseline = {
      call_ref: r.call_ref, account_id: r.account_id, account_reference: r.account_reference,
      debtor_name: r.debtor_name, direction: r.direction, status: r.status,
      number: r.direction === "inbound" ? r.from : r.to, created_at: r.created_at,
    };
    if (r.ended_at) Object.assign(baseline, { phase: "ended", ended_at: r.ended_at, end_reason: r.end_reason, outcome: r.outcome });
    call = { ...baseline, ...call };
    showCard();
    if (caughtUp) fallBack(r);
    else pendingRecord = r;
  } catch (e) {
    actionStatus.textContent = `Could not load the call: ${e.message}`;
  }
}
let pendingRecord = null;

function fallBack(r) {
  if (timeline.children.length || !r.ended_at) return;
  for (const line of r.transcript || []) {
    entry(line.role, line.role, line.role === "agent" ? "Agent" : "Caller", line.text);
  }
  entry("ended", "event", "Call ended", `${r.end_reason} (${r.outcome})`);
}

followLive({ call_sid: sid }, {
  onEvent,
  onReset: reset,
  onCaughtUp: () => { caughtUp = true; if (pendingRecord) fallBack(pendingRecord); },
  statusEl: document.getElementById("connection"),
});
loadRecord();
setInterval(tickDuration, 1000);

// Listen in.
let listener = null;
const listenButton = document.getElementById("listen");
listenButton.addEventListener("click", () => {
  if (listener) {
    listener.stop();
    listener = null;
    listenButton.setAttribute("aria-pressed", "false");
    listenButton.textContent = "Listen in";
    return;
  }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  listener = new Listener(`${scheme}://${location.host}/live/calls/${encodeURIComponent(ref)}/listen`,
    document.getElementById("listen-status"));
  listener.onStopped = () => {
    listener = null;
    listenButton.setAttribute("aria-pressed", "false");
    listenButton.textContent = "Listen in";
    showCard();
  };
  listener.start();
  listenButton.setAttribute("aria-pressed", "true");
  listenButton.textContent = "Stop listening";
});

// Step in.
const hangup = document.getElementById("hangup");
if (hangup && may("operator")) {
  hangup.addEventListener("click", async () => {
    hangup.disabled = true;
    actionStatus.textContent = "Ending the call…";
    try {
      await api("POST", `/api/calls/${encodeURIComponent(ref)}/hangup`);
      actionStatus.textContent = "The call is being ended.";
    } catch (e) {
      actionStatus.textContent = `The call could not be ended: ${e.message}`;
      hangup.disabled = call.phase === "ended";
    }
  });
}

// Take over: a warm transfer to the supervisor's own number.
const transfer = document.getElementById("transfer");
if (transfer && may("operator")) {
  const to = document.getElementById("transfer-to");
  to.value = localStorage.getItem("parley.supervisor_number") || "";
  transfer.addEventListener("submit", async (submit) => {
    submit.preventDefault();
    const button = transfer.querySelector("button");
    button.disabled = true;
    actionStatus.textContent = "Transferring the call to you…";
    const number = to.value.trim();
    localStorage.setItem("parley.supervisor_number", number);
    try {
      await api("POST", `/api/calls/${encodeURIComponent(ref)}/transfer`,
        { to: number, note: document.getElementById("transfer-note").value });
      actionStatus.textContent = "Your phone will ring: you hear a brief, then the caller.";
    } catch (e) {
      actionStatus.textContent = `The call could not be transferred: ${e.message}`;
      button.disabled = false;
    }
  });
}
