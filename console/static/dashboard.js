// The dashboard: key figures, charts drawn by the server (the same as the report command's) and tables.
"use strict";

const $ = (id) => document.getElementById(id);
const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`);

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function figure(label, value) {
  const box = el("div", null, "figure");
  box.append(el("strong", value), el("span", label, "label"));
  return box;
}

function table(title, header, rows) {
  const section = el("div", null, "table");
  section.append(el("h3", title));
  const t = el("table");
  const head = el("tr");
  for (const h of header) head.append(el("th", h));
  t.append(head);
  for (const row of rows) {
    const tr = el("tr");
    for (const cell of row) tr.append(el("td", cell));
    t.append(tr);
  }
  if (!rows.length) {
    const empty = el("tr");
    empty.append(el("td", "(none)"));
    t.append(empty);
  }
  section.append(t);
  return section;
}

function rateRows(groups) {
  return Object.entries(groups).map(([key, r]) => [key, r.conversations, pct(r.automation_rate), pct(r.handoff_rate),
                                                   pct(r.fallback_rate)]);
}

async function show() {
  const query = new URLSearchParams({from: $("from").value, to: $("to").value});
  const response = await fetch(`/api/analytics?${query}`);
  if (response.status === 401) { window.location = "/login"; return; }
  const data = await response.json();
  if (!response.ok) { $("dashboard-error").textContent = data.error; return; }
  $("dashboard-error").textContent = "";
  const t = data.totals;
  $("figures").replaceChildren(
    figure("conversations", t.conversations), figure("automation rate", pct(t.automation_rate)),
    figure("handoff rate", pct(t.handoff_rate)), figure("fallback rate", pct(t.fallback_rate)),
    figure("refund deadlines met", pct(data.refunds.compliance)),
    figure("median first agent reply", data.agent_reply.median_minutes === null ? "–" : `${data.agent_reply.median_minutes} min`),
    figure("agent replies within SLA", pct(data.agent_reply.within_sla)),
    figure("satisfaction", data.ratings.average === null ? "–" : `${data.ratings.average} / 5 (${data.ratings.count})`));
  $("charts").replaceChildren(...["rates_over_time", "reasons_by_product", "by_language"].map((name) => {
    const img = el("img");
    img.src = `/api/analytics/charts/${name}.png?${query}`;
    img.alt = name.replaceAll("_", " ");
    img.dataset.chart = name;
    return img;
  }));
  $("tables").replaceChildren(
    table("Per language", ["language", "conversations", "automated", "handed off", "fallback"], rateRows(data.by_language)),
    table("Per destination country", ["country", "conversations", "automated", "handed off", "fallback"], rateRows(data.by_country)),
    table("Handoff reasons", ["reason", "count"], Object.entries(data.handoff_reasons)),
    table("Reasons per product", ["SKU", "product", "case", "reason", "count"],
          data.reasons_by_product.map((r) => [r.sku, r.product, r.case_type, r.reason, r.count])),
    table("Policy outcomes", ["rule", "outcome", "count"], data.outcomes.map((o) => [o.rule_id, o.outcome, o.count])),
    table("Overridden by an agent", ["rule", "count"], Object.entries(data.overrides)),
    table("Cases by type", ["type", "count"], Object.entries(data.cases_by_type)));
}

const today = new Date();
const monthAgo = new Date(today.getTime() - 29 * 86400000);
const params = new URLSearchParams(window.location.search);
$("to").value = params.get("to") || today.toISOString().slice(0, 10);
$("from").value = params.get("from") || monthAgo.toISOString().slice(0, 10);
$("range").addEventListener("submit", (event) => { event.preventDefault(); show(); });
show();
