// Labelling view of the review queue: the most uncertain open review item first, one key per
// label. Shares `state`, `el`, `$`, `toast`, `applyStatus` and LABEL_TEXT with app.js (loaded
// first). Post text is untrusted: textContent only.
"use strict";

const LABEL_ORDER = ["request", "offer", "emotional_support", "other"];
const labeller = { skipped: new Set(), currentId: null, busy: false, startedAt: null, done: 0 };

// Margin between the two most probable labels: small = the model is unsure = most useful label.
function uncertainty(item) {
  const p = Object.values(item.probabilities || {}).sort((a, b) => b - a);
  return p.length > 1 ? p[0] - p[1] : 1;
}

function reviewQueue() {
  return [...state.items.values()]
    .filter((i) => i.route === "review" && i.status === "open" && !labeller.skipped.has(i.id))
    .sort((a, b) => uncertainty(a) - uncertainty(b) || b.ts - a.ts);
}

function currentModel() {
  let newest = null;
  for (const item of state.items.values()) if (item.model && (!newest || item.ts > newest.ts)) newest = item;
  return newest ? newest.model : null;
}

function renderLabelCounts() {
  const labels = state.labels || { total: 0, by_class: {}, by_model: {} };
  const model = currentModel();
  const parts = LABEL_ORDER.map((l) => `${LABEL_TEXT[l] || l} ${labels.by_class[l] || 0}`);
  $("label-counts").textContent = `${labels.total} labels: ${parts.join(" · ")}`;
  $("label-since").textContent = model
    ? `${(labels.by_model || {})[model] || 0} since ${model}`
    : "";
  if (labeller.done > 1 && labeller.startedAt) {
    const minutes = (Date.now() - labeller.startedAt) / 60000;
    $("label-rate").textContent = `${(labeller.done / Math.max(minutes, 1 / 60)).toFixed(1)} / min`;
  }
}

function probabilityBars(item) {
  return el("div", { class: "prob-bars" }, ...LABEL_ORDER.map((l) => {
    const p = (item.probabilities || {})[l] || 0;
    const fill = el("span", { class: "prob-fill " + l });
    fill.style.width = Math.round(p * 100) + "%"; // CSSOM: allowed by the page's CSP
    return el("div", { class: "prob-row" + (l === item.label ? " top" : "") },
      el("span", { class: "prob-name", text: LABEL_TEXT[l] || l }),
      el("span", { class: "prob-bar" }, fill),
      el("span", { class: "prob-value", text: Math.round(p * 100) + "%" }));
  }));
}

function renderLabeller() {
  const box = $("label-card");
  if (!box) return;
  const queue = reviewQueue();
  $("label-queue").textContent = `${queue.length} in the review queue`;
  renderLabelCounts();
  const item = queue[0];
  if (!item) {
    labeller.currentId = null;
    box.replaceChildren(el("p", { class: "empty", text: "Nothing to label: the review queue is empty." }));
    return;
  }
  if (item.id === labeller.currentId && box.firstChild) return; // keep the card (and focus) steady
  labeller.currentId = item.id;
  const text = el("p", { class: "label-text" });
  text.textContent = item.text;
  const buttons = LABEL_ORDER.map((l, i) => el("button", {
    type: "button", class: "label-btn " + l, "data-label": l,
    title: `label as ${LABEL_TEXT[l] || l} (key ${i + 1})`,
    onclick: () => sendLabel(item, l),
  }, el("kbd", { text: String(i + 1) }), " " + (LABEL_TEXT[l] || l)));
  const confirm = el("button", {
    type: "button", class: "primary label-confirm", title: "the model is right (Enter)",
    onclick: () => sendLabel(item, item.label),
  }, el("kbd", { text: "↵" }), ` confirm ${LABEL_TEXT[item.label] || item.label}`);
  const skip = el("button", {
    type: "button", class: "label-skip", title: "not sure: next post (S)",
    onclick: () => { labeller.skipped.add(item.id); renderLabeller(); },
  }, el("kbd", { text: "S" }), " skip");
  box.replaceChildren(
    el("div", { class: "item-meta" },
      el("span", { class: "badge " + item.label, text: "model: " + (LABEL_TEXT[item.label] || item.label) }),
      el("span", { class: "muted", text: `margin ${Math.round(uncertainty(item) * 100)} pts` }),
      item.event ? el("span", { class: "event", text: item.event }) : null),
    text,
    probabilityBars(item),
    el("div", { class: "label-actions" }, ...buttons, confirm, skip));
  box.setAttribute("data-id", item.id);
}

function sendLabel(item, label) {
  if (labeller.busy) return;
  labeller.busy = true;
  const action = label === item.label ? "confirmed" : "misclassified";
  fetch("/api/feedback", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ id: item.id, action, corrected_label: action === "confirmed" ? null : label }),
  })
    .then((response) => response.json().then((body) => ({ ok: response.ok, body })))
    .then(({ ok, body }) => {
      if (!ok) throw new Error(body.error || "failed");
      labeller.startedAt = labeller.startedAt || Date.now();
      labeller.done += 1;
      applyStatus({ id: item.id, status: action, corrected_label: body.feedback.corrected_label });
      toast(`Labelled ${LABEL_TEXT[label] || label} · written to ${state.meta.prefix}.feedback`);
    })
    .catch((error) => toast("Label not saved: " + error.message, true))
    .finally(() => { labeller.busy = false; renderLabeller(); });
}

function onLabelKey(event) {
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  const target = event.target;
  if (target && ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName)) return;
  const item = state.items.get(labeller.currentId);
  if (!item) return;
  const index = ["1", "2", "3", "4"].indexOf(event.key);
  if (index >= 0) sendLabel(item, LABEL_ORDER[index]);
  else if (event.key === "Enter") sendLabel(item, item.label);
  else if (event.key === "s" || event.key === "S") { labeller.skipped.add(item.id); renderLabeller(); }
  else return;
  event.preventDefault();
}

document.addEventListener("keydown", onLabelKey);
window.renderLabeller = renderLabeller;
