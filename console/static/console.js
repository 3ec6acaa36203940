// The agent console: the queue, one conversation at a time, live (polling every 2 s).
// Everything shoppers wrote is put on the page as text (textContent), never as HTML.
"use strict";

const state = {agent: null, selected: null, transcriptSize: -1};
const $ = (id) => document.getElementById(id);

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  if (response.status === 401) { window.location = "/login"; throw new Error("logged out"); }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(data.error || response.statusText), {data, status: response.status});
  return data;
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function duration(ms) {
  const minutes = Math.round(Math.abs(ms) / 60000);
  const h = Math.floor(minutes / 60), m = minutes % 60;
  return h ? `${h}h ${m}m` : `${m}m`;
}

function sla(due) {
  if (!due) return el("span", "–");
  const left = new Date(due) - Date.now();
  return left < 0 ? el("span", `overdue ${duration(left)}`, "overdue") : el("span", `in ${duration(left)}`);
}

// -- queue ------------------------------------------------------------------------------------------

async function refreshQueue() {
  const {cases} = await api("/api/queue");
  const body = $("queue").querySelector("tbody");
  body.replaceChildren();
  for (const c of cases) {
    const row = el("tr");
    row.dataset.number = c.number;
    if (c.number === state.selected) row.classList.add("selected");
    row.append(el("td", c.number), el("td"), el("td"), el("td", duration(Date.now() - new Date(c.escalated_at))),
               el("td", c.language), el("td", c.type), el("td", c.assignee || "—"), el("td"));
    row.children[1].append(el("span", c.priority, `badge priority-${c.priority}`));
    row.children[2].append(sla(c.sla_due_at));
    row.addEventListener("click", () => select(c.number));
    body.append(row);
  }
  $("queue-empty").hidden = cases.length > 0;
}

// -- one case ---------------------------------------------------------------------------------------

async function select(number) {
  state.selected = number;
  state.transcriptSize = -1;
  $("case-panel").hidden = false;
  $("case-error").textContent = "";
  await refreshCase();
  refreshQueue();
}

function message(line) {
  const item = el("li", null, line.payload ? `${line.from} payload` : line.from);
  item.dataset.from = line.from;
  if (line.from === "system") { item.textContent = line.text === "pause" ? "— bot paused —" : "— bot resumed —"; return item; }
  const who = line.from === "agent" ? `agent ${line.agent}` : line.from;
  item.append(el("span", line.text, "original"));
  const meta = [who, line.language ? `${state.labels.original} · ${line.language}` : null].filter(Boolean).join(" · ");
  item.append(el("span", meta, "label"));
  if (line.translation) {
    const t = el("span", line.translation, "translation");
    t.dataset.kind = "translation";
    item.append(t, el("span", line.translation_label, "label"));
  } else if (line.translation_label) {
    item.append(el("span", line.translation_label, "label not-translated"));
  }
  if (line.from === "agent" && line.sent && line.sent !== line.text) {
    item.append(el("span", line.sent, "translation"), el("span", "sent to the shopper", "label"));
  }
  if (line.buttons) item.append(el("span", `[${line.buttons.join("] [")}]`, "label"));
  return item;
}

function facts(list, entries) {
  list.replaceChildren();
  for (const [key, value] of entries) {
    if (value === null || value === undefined || value === "") continue;
    list.append(el("dt", key), el("dd", value));
  }
}

async function refreshCase() {
  if (!state.selected) return;
  let data;
  try { data = await api(`/api/cases/${encodeURIComponent(state.selected)}`); }
  catch (error) { $("case-error").textContent = error.message; return; }
  const {case: c, order, trace, transcript} = data;
  state.labels = data.labels || state.labels;
  $("case-title").textContent = `${c.number} · ${c.type} · ${c.order_number || "no order"}`;
  $("case-status").textContent = `${c.status}${c.assignee ? " · " + c.assignee : ""} · shopper writes ${data.shopper_language}`;
  const mine = c.assignee === state.agent.username && c.status === "in_progress";
  $("claim").hidden = c.status !== "escalated";
  $("release").hidden = !mine;
  for (const form of ["reply-form", "decide-form", "handback-form"]) {
    for (const control of $(form).elements) control.disabled = !mine;
  }
  if (transcript.length !== state.transcriptSize) {
    const list = $("transcript");
    list.replaceChildren(...transcript.map(message));
    list.scrollTop = list.scrollHeight;
    state.transcriptSize = transcript.length;
  }
  const orderBox = $("order");
  orderBox.replaceChildren();
  if (order) {
    const list = el("dl");
    facts(list, [["number", order.number], ["status", order.status], ["total", order.total], ["paid", order.paid],
                 ["refunded", order.refunded], ["to", order.destination], ["carrier", order.carrier],
                 ["tracking", order.tracking_number], ["delivered", order.delivered_at], ["address", order.address]]);
    const items = el("ul");
    for (const i of order.items) items.append(el("li", `${i.quantity} × ${i.name} (${i.sku}) ${i.unit_price}` +
                                                      (i.returned ? ` · ${i.returned} returned` : "") + ` · ${i.returnability}`));
    orderBox.append(list, items);
  }
  facts($("case-facts"), [["priority", c.priority], ["SLA due", c.sla_due_at && new Date(c.sla_due_at).toLocaleString()],
                          ["reason", c.reason], ["outcome", c.outcome], ["rule", c.rule_id], ["channel", c.channel],
                          ["summary", c.summary]]);
  const traceList = $("trace");
  traceList.replaceChildren();
  for (const step of trace) {
    const item = el("li");
    item.dataset.kind = step.kind;
    const when = new Date(step.at).toLocaleString();
    if (step.kind === "decision") {
      item.append(el("strong", `${step.rule_id} · ${step.outcome_label}`), el("span", `${when} · ${step.actor} · policy ${step.policy_version}`, "label"));
      for (const line of step.explanation) item.append(el("p", line, "explanation"));
      const list = el("dl");
      facts(list, Object.entries(step.facts));
      item.append(list);
    } else {
      const data = step.data || {};
      const detail = data.note || data.action || data.status || data.text || "";
      item.append(el("strong", `${step.kind}${step.rule_id ? " · " + step.rule_id : ""}`), el("span", `${when} · ${step.actor}`, "label"));
      if (detail) item.append(el("p", detail));
    }
    traceList.append(item);
  }
}

// -- actions ----------------------------------------------------------------------------------------

async function act(path, body, note) {
  $("case-error").textContent = "";
  try {
    const result = await api(path, body);
    await refreshCase();
    refreshQueue();
    return result;
  } catch (error) {
    $("case-error").textContent = error.message;
    if (note) note.textContent = "";
    return error.data;
  }
}

const casePath = (suffix) => `/api/cases/${encodeURIComponent(state.selected)}/${suffix}`;

$("claim").addEventListener("click", () => act(casePath("claim"), {}));
$("release").addEventListener("click", () => act(casePath("release"), {}));

$("reply-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const canned = $("canned").value;
  const text = $("reply-text").value.trim();
  if (!canned && !text) return;
  const result = await act(casePath("reply"), canned ? {canned} : {text}, $("reply-note"));
  if (result && result.sent !== undefined) {
    $("reply-text").value = "";
    $("canned").value = "";
    $("reply-note").textContent = result.label || "";
  }
});

$("decide-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = {action: $("decide-action").value, note: $("decide-note").value, amount: $("decide-amount").value || null};
  const result = await act(casePath("decide"), body, $("decide-result"));
  if (result && result.rule_id) {
    $("decide-result").textContent = `${result.rule_id}: ${result.outcome}` +
      (result.told_shopper && result.told_shopper.length ? " · the shopper was told" : "");
  }
});

function handBack(close) {
  return act(casePath("hand-back"), {note: $("handback-note").value, close});
}
$("handback-form").addEventListener("submit", (event) => { event.preventDefault(); handBack(false); });
$("close-case").addEventListener("click", () => handBack(true));

$("logout").addEventListener("click", async () => { await api("/api/logout", {}); window.location = "/login"; });

async function start() {
  const {agent} = await api("/api/me");
  state.agent = agent;
  $("me").textContent = `${agent.name} (${agent.username}) · works in ${agent.language}`;
  const {replies, labels} = await api("/api/canned");
  state.labels = labels;
  for (const r of replies) {
    const option = el("option", r.text);
    option.value = r.key;
    $("canned").append(option);
  }
  await refreshQueue();
  setInterval(() => refreshQueue().catch(() => {}), 3000);
  setInterval(() => refreshCase().catch(() => {}), 2000);
}
start();
