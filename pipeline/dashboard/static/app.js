// Crisis triage dashboard. Vanilla JS, no dependencies. Post text is untrusted: it is only
// ever set with textContent (never innerHTML), and the page's CSP forbids inline script.
"use strict";

const FEED_LIMIT = 200; // cards rendered at once (the filters narrow the window)
const CHART_MINUTES = 30;
const LABEL_TEXT = {
  request: "request",
  offer: "offer",
  emotional_support: "support",
  other: "other",
};

const state = {
  meta: { labels: [], resources: [], prefix: "" },
  items: new Map(), // id -> item
  counts: [],
  totals: { posts: 0, clusters: 0 },
  labels: null, // training labels given so far (see labeller.js)
  matches: [],
  health: null,
};
const nodes = new Map(); // id -> [status key, <li>] (cards are reused: no focus lost on update)
let renderQueued = false;

// ------------------------------------------------------------------ DOM helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

const $ = (id) => document.getElementById(id);

function fmtTime(ms) {
  const d = new Date(ms);
  const now = new Date();
  const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  if (d.toDateString() === now.toDateString()) return time;
  return d.toLocaleDateString([], { month: "short", day: "numeric" }) + " " + time;
}

function fmtNumber(value, digits) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return Number(value).toLocaleString([], { maximumFractionDigits: digits || 0 });
}

function toast(message, isError) {
  const box = $("toast");
  box.textContent = message;
  box.className = "toast show" + (isError ? " error" : "");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.className = "toast"; }, 3500);
}

// ------------------------------------------------------------------ filters

function fillSelect(select, values, labelOf) {
  const keep = select.value;
  while (select.options.length > 1) select.remove(1);
  for (const value of values) select.add(new Option(labelOf ? labelOf(value) : value, value));
  select.value = values.includes(keep) ? keep : "";
}

function refreshEventOptions() {
  const events = [...new Set([...state.items.values()].map((i) => i.event).filter(Boolean))].sort();
  const select = $("filter-event");
  const current = [...select.options].slice(1).map((o) => o.value);
  if (current.join("\n") !== events.join("\n")) fillSelect(select, events);
}

function filters() {
  return {
    label: $("filter-label").value,
    resource: $("filter-resource").value,
    event: $("filter-event").value,
    keyword: $("filter-keyword").value.trim().toLowerCase(),
    handled: $("filter-handled").checked,
  };
}

function visible(item, f) {
  if (f.label && item.label !== f.label) return false;
  if (f.resource && !(item.resources || []).includes(f.resource)) return false;
  if (f.event && item.event !== f.event) return false;
  if (!f.handled && item.status === "handled") return false;
  if (f.keyword) {
    const place = item.location ? item.location.name : "";
    if (!(item.text.toLowerCase().includes(f.keyword) || place.toLowerCase().includes(f.keyword))) return false;
  }
  return true;
}

// ------------------------------------------------------------------ feed

function labelBadge(item) {
  return el("span", { class: "badge " + item.label, text: LABEL_TEXT[item.label] || item.label });
}

function placeNode(location) {
  if (!location) return null;
  const how = location.method === "geo" ? "from the post's coordinates" : "named in the text";
  return el("span", { class: "place", title: how, text: location.name });
}

function reviewBadge(item) {
  const reason = item.review_reason || "";
  if (reason.startsWith("unsupported_language:")) {
    const lang = reason.split(":")[1];
    return el("span", { class: "badge review", title: `written in '${lang}', a language no model here reads: a person must read it`, text: "needs review · " + lang });
  }
  return el("span", { class: "badge review", title: reason || "below the label's confidence threshold", text: "needs review" });
}

function copiesNode(item) {
  const copies = item.cluster_size || item.copies || 1;
  if (copies < 2) return null;
  const latest = item.latest_ts || item.ts;
  return el("span", { class: "copies", title: `${copies} near-identical posts (retweets and copies) collapsed into this card; latest copy ${fmtTime(latest)}` },
    el("b", { class: "copies-n", text: "×" + copies }),
    el("span", { class: "copies-latest", text: " latest " + fmtTime(latest) }));
}

function sendFeedback(item, action, correctedLabel, buttons) {
  buttons.forEach((b) => { b.disabled = true; });
  fetch("/api/feedback", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ id: item.id, action, corrected_label: correctedLabel || null }),
  })
    .then((response) => response.json().then((body) => ({ ok: response.ok, body })))
    .then(({ ok, body }) => {
      if (!ok) throw new Error(body.error || "failed");
      applyStatus({ id: item.id, status: action, corrected_label: body.feedback.corrected_label });
      const what = "Marked " + action;
      toast(`${what} · feedback written to ${state.meta.prefix}.feedback`);
    })
    .catch((error) => {
      buttons.forEach((b) => { b.disabled = false; });
      toast("Feedback not saved: " + error.message, true);
    });
}

function feedCard(item) {
  const meta = el("div", { class: "item-meta" },
    labelBadge(item),
    item.confidence === null ? null : el("span", { class: "conf", title: "model probability", text: Math.round(item.confidence * 100) + "%" }),
    item.route === "review" ? reviewBadge(item) : null,
    item.status !== "open" ? el("span", { class: "badge state", text: item.status + (item.corrected_label ? " → " + (LABEL_TEXT[item.corrected_label] || item.corrected_label) : "") }) : null,
    el("time", { datetime: new Date(item.ts).toISOString(), text: fmtTime(item.ts) }),
    copiesNode(item),
    item.lang && item.lang !== "en" && item.lang !== "und" ? el("span", { class: "badge lang", title: "language of the post", text: item.lang }) : null,
    placeNode(item.location),
    item.event ? el("span", { class: "event", text: item.event }) : null,
  );
  const text = el("p", { class: "item-text" });
  text.textContent = item.text; // untrusted: text only

  const handled = el("button", { type: "button", class: "primary act-handled", title: "leave the open list; writes feedback" }, "Handled");
  const correction = el("select", { class: "act-label", "aria-label": "correct label" },
    el("option", { value: "", text: "correct label…" }),
    ...state.meta.labels.filter((l) => l !== item.label).map((l) => el("option", { value: l, text: LABEL_TEXT[l] || l })));
  const wrong = el("button", { type: "button", class: "danger act-misclassified", title: "tell the retraining loop the label is wrong" }, "Misclassified");
  const buttons = [handled, wrong];
  handled.addEventListener("click", () => sendFeedback(item, "handled", null, buttons));
  wrong.addEventListener("click", () => sendFeedback(item, "misclassified", correction.value, buttons));
  if (item.status === "handled") handled.disabled = true;

  const foot = el("div", { class: "item-foot" },
    ...(item.resources || []).map((r) => el("span", { class: "chip", text: r })),
    el("span", { class: "spacer" }),
    handled, correction, wrong);
  return el("li", { class: "item status-" + item.status, "data-id": item.id, "data-label": item.label }, meta, text, foot);
}

function cardFor(item) {
  const key = item.status + "|" + (item.corrected_label || "") + "|" + (item.cluster_size || 1) + "|" + (item.latest_ts || 0);
  const cached = nodes.get(item.id);
  if (cached && cached[0] === key) return cached[1];
  const card = feedCard(item);
  if (cached && cached[1].parentNode) cached[1].replaceWith(card);
  nodes.set(item.id, [key, card]);
  return card;
}

function renderFeed() {
  const f = filters();
  const sorted = [...state.items.values()].sort((a, b) => b.ts - a.ts);
  const shown = sorted.filter((item) => visible(item, f));
  const list = $("feed");
  let cursor = list.firstChild;
  for (const item of shown.slice(0, FEED_LIMIT)) {
    const card = cardFor(item);
    if (card === cursor) cursor = cursor.nextSibling;
    else list.insertBefore(card, cursor);
  }
  while (cursor) {
    const next = cursor.nextSibling;
    list.removeChild(cursor);
    cursor = next;
  }
  $("feed-count").textContent = `${shown.length} cards shown of ${state.items.size}`;
  $("feed-empty").hidden = shown.length > 0;
  $("feed-empty").textContent = state.items.size ? "Nothing matches these filters." : "Waiting for routed posts…";
}

function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    refreshEventOptions();
    renderFeed();
    if (window.renderLabeller) window.renderLabeller();
  });
}

function applyStatus(change) {
  const item = state.items.get(change.id);
  if (!item) return;
  item.status = change.status;
  item.corrected_label = change.corrected_label;
  scheduleRender();
}

// ------------------------------------------------------------------ chart

function renderChart() {
  const box = $("chart");
  const labels = state.meta.labels;
  const byMinute = new Map(state.counts.map((c) => [c.minute, c.counts]));
  const nowMinute = Math.floor(Date.now() / 60000) * 60000;
  const newest = state.counts.length ? state.counts[state.counts.length - 1].minute : nowMinute;
  const end = newest > nowMinute - CHART_MINUTES * 60000 ? Math.max(newest, nowMinute) : newest;
  const minutes = [];
  for (let i = CHART_MINUTES - 1; i >= 0; i--) minutes.push(end - i * 60000);
  const totals = minutes.map((m) => labels.reduce((sum, l) => sum + ((byMinute.get(m) || {})[l] || 0), 0));
  const top = Math.max(4, ...totals);
  const step = Math.pow(10, Math.floor(Math.log10(top)));
  const yMax = Math.ceil(top / step) * step;

  const W = 600, H = 190, left = 34, right = 8, topPad = 8, bottom = 22;
  const plotW = W - left - right, plotH = H - topPad - bottom;
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": "posts per minute by label" });
  for (let i = 0; i <= 4; i++) {
    const y = topPad + plotH - (plotH * i) / 4;
    chart.append(svg("line", { class: i ? "grid" : "axis", x1: left, x2: W - right, y1: y, y2: y }));
    chart.append(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end" }, fmtNumber((yMax * i) / 4, 1)));
  }
  const slot = plotW / minutes.length;
  minutes.forEach((minute, index) => {
    let y = topPad + plotH;
    const x = left + index * slot + 1.5;
    for (const label of labels) {
      const n = (byMinute.get(minute) || {})[label] || 0;
      if (!n) continue;
      const h = (plotH * n) / yMax;
      y -= h;
      const bar = svg("rect", { class: "bar-" + label, x, y, width: Math.max(1, slot - 3), height: h });
      bar.append(svg("title", {}, `${fmtTime(minute)} · ${LABEL_TEXT[label] || label}: ${n}`));
      chart.append(bar);
    }
    if (index % 5 === 4 || index === 0) {
      const t = new Date(minute).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
      chart.append(svg("text", { x: x + slot / 2, y: H - 6, "text-anchor": "middle" }, t));
    }
  });
  box.replaceChildren(chart);
  const sums = Object.fromEntries(labels.map((l) => [l, state.counts.reduce((s, c) => s + (c.counts[l] || 0), 0)]));
  $("legend").replaceChildren(...labels.map((l) =>
    el("span", {}, el("span", { class: "swatch " + l }), `${LABEL_TEXT[l] || l} ${fmtNumber(sums[l])}`)));
}

function renderTotals() {
  const t = state.totals || { posts: 0, clusters: 0 };
  $("totals").textContent = `${fmtNumber(t.posts)} posts · ${fmtNumber(t.clusters)} distinct (near-duplicates collapsed)`;
}

// ------------------------------------------------------------------ matching

function renderMatches() {
  const list = $("matches");
  const open = state.matches.filter((entry) => {
    const item = state.items.get(entry.request.id);
    return !item || item.status === "open";
  });
  list.replaceChildren(...open.map((entry) => {
    const request = entry.request;
    const text = el("p", { class: "item-text clamp" });
    text.textContent = request.text;
    const head = el("div", { class: "match-req" }, labelBadge(request),
      el("div", {},
        text,
        el("div", { class: "item-meta" },
          el("time", { text: fmtTime(request.ts) }),
          placeNode(request.location),
          ...(request.resources || []).map((r) => el("span", { class: "chip", text: r })))));
    const offers = entry.matches.length
      ? el("ol", { class: "offers" }, ...entry.matches.map((m) => {
          const offerText = el("span", { class: "clamp" });
          offerText.textContent = m.offer.text;
          return el("li", { class: "match-offer" },
            el("span", { class: "score", title: "match score", text: m.score.toFixed(1) }),
            el("div", {}, offerText, el("div", { class: "why", text: m.reasons.join(" · ") })));
        }))
      : el("p", { class: "nomatch", text: "no matching offer yet" });
    return el("li", { class: "match", "data-id": request.id }, head, offers);
  }));
  const withOffers = open.filter((e) => e.matches.length).length;
  $("match-count").textContent = open.length ? `${withOffers} of ${open.length} with offers` : "";
  $("matches-empty").hidden = open.length > 0;
}

// ------------------------------------------------------------------ health

function setTile(id, value, level, small) {
  const node = $(id);
  node.textContent = value;
  node.classList.toggle("small", Boolean(small));
  node.parentElement.classList.remove("good", "warn", "bad");
  if (level) node.parentElement.classList.add(level);
}

function renderHealth() {
  const h = state.health;
  if (!h) return;
  const m = h.metrics || {};
  const dlqTopic = (h.dead_letters || {}).seen || 0;
  if (m.ok) {
    setTile("h-throughput", m.throughput_per_s === null ? "–" : fmtNumber(m.throughput_per_s, 1) + " /s", "good");
    setTile("h-lag", m.lag === null ? "–" : fmtNumber(m.lag), m.lag > 1000 ? "warn" : "good");
    setTile("h-latency", m.mean_latency_s === null ? "–" : fmtNumber(m.mean_latency_s * 1000) + " ms", m.mean_latency_s > 5 ? "warn" : "good");
  } else {
    for (const id of ["h-throughput", "h-lag", "h-latency"]) setTile(id, "–", null);
  }
  const dead = m.ok ? Math.max(m.dead_letters, dlqTopic) : dlqTopic;
  setTile("h-dlq", fmtNumber(dead), dead > 0 ? "bad" : "good");
  setTile("h-model", h.model || "–", null, true);
  setTile("h-window", fmtNumber(h.feed.window), null);
  const notes = [];
  if (!m.ok && m.error) notes.push(m.error);
  if (h.feed.error) notes.push(h.feed.error);
  const recent = (h.dead_letters || {}).recent || [];
  if (recent.length) notes.push("last dead letter: " + recent[0].reason);
  $("h-note").textContent = notes.join(" · ");
}

// ------------------------------------------------------------------ live stream

function setConnection(kind, text) {
  const conn = $("conn");
  conn.className = "conn conn-" + kind;
  conn.textContent = text;
}

function onSnapshot(snapshot) {
  state.meta = snapshot.meta;
  $("prefix").textContent = snapshot.meta.prefix + ".*";
  fillSelect($("filter-label"), snapshot.meta.labels, (l) => LABEL_TEXT[l] || l);
  fillSelect($("filter-resource"), snapshot.meta.resources);
  state.items = new Map(snapshot.items.map((item) => [item.id, item]));
  nodes.clear();
  $("feed").replaceChildren();
  state.counts = snapshot.counts;
  state.totals = snapshot.totals;
  state.labels = snapshot.labels;
  state.matches = snapshot.matches;
  state.health = snapshot.health;
  scheduleRender();
  renderChart();
  renderTotals();
  renderMatches();
  renderHealth();
}

function connect() {
  const source = new EventSource("/api/stream");
  const on = (name, handler) => source.addEventListener(name, (event) => handler(JSON.parse(event.data)));
  on("snapshot", (data) => { setConnection("live", "live"); onSnapshot(data); });
  on("item", (item) => {
    state.items.set(item.id, item);
    if (state.items.size > (state.meta.window || 2000)) {
      const oldest = [...state.items.values()].reduce((a, b) => (a.ts <= b.ts ? a : b));
      state.items.delete(oldest.id);
      nodes.delete(oldest.id);
    }
    scheduleRender();
  });
  on("status", (change) => { applyStatus(change); renderMatches(); });
  on("counts", (counts) => { state.counts = counts; renderChart(); });
  on("totals", (totals) => { state.totals = totals; renderTotals(); });
  on("labels", (labels) => { state.labels = labels; scheduleRender(); });
  on("matches", (matches) => { state.matches = matches; renderMatches(); });
  on("health", (health) => { state.health = health; renderHealth(); });
  source.onopen = () => setConnection("live", "live");
  source.onerror = () => setConnection(source.readyState === EventSource.CLOSED ? "down" : "wait",
    source.readyState === EventSource.CLOSED ? "disconnected" : "reconnecting");
}

function init() {
  for (const id of ["filter-label", "filter-resource", "filter-event", "filter-handled"]) {
    $(id).addEventListener("change", renderFeed);
  }
  $("filter-keyword").addEventListener("input", renderFeed);
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  setInterval(renderChart, 30000); // keep the time axis moving when nothing arrives
  connect();
}

document.addEventListener("DOMContentLoaded", init);
