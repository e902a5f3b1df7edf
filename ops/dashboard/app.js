// The operators' dashboard: a corridor schematic with live signals and plans, counts,
// queues, violations and health, updated over server-sent events from /api/stream.
"use strict";

const state = { corridor: null, greens: {}, signals: {}, plans: {}, controllers: {}, cameras: {}, lanes: {}, counts: new Map(), total: 0 };

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

async function getJson(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
}

function renderCorridor() {
  const c = state.corridor;
  if (!c) return;
  $("corridor").innerHTML = c.intersections.map((i) => {
    const phases = state.signals[i.id] || [];
    const plan = state.plans[i.id];
    const ctl = state.controllers[i.id];
    const rows = i.phases.map((p) => {
      const s = phases.find((x) => x.phase === p.id);
      const ind = s ? s.indication : "unknown";
      const greens = (state.greens[`${i.id}|${p.id}`] || []).join(",");
      return `<div class="phase" data-intersection="${esc(i.id)}" data-phase="${p.id}" data-indication="${esc(ind)}" data-greens="${greens}">
        <span class="lamp ${esc(ind)}"></span> ${p.id} ${esc(p.name)} <small>${esc(ind)}</small></div>`;
    }).join("");
    const planText = plan
      ? `<div class="plan ${plan.manual ? "manual" : ""}" data-plan="${esc(plan.name)}">plan <b>${esc(plan.name)}</b>${plan.manual ? " (manual)" : ""}: cycle ${plan.plan.cycle_s} s, offset ${plan.plan.offset_s} s, splits ${plan.plan.splits_s.join(" / ")} s</div>`
      : `<div class="plan">no plan reported</div>`;
    const ctlText = ctl ? `<span class="pill ${ctl.up ? "up" : "down"}">${ctl.up ? esc(ctl.mode) : "down"}</span>` : "";
    return `<div class="intersection" id="int-${esc(i.id)}"><b>${esc(i.id)}</b> ${esc(i.name)} ${ctlText}${rows}${planText}</div>`;
  }).join("");
}

function renderCounts() {
  $("count-total").textContent = state.total;
  const rows = [...state.counts.values()].sort((a, b) => (a.camera + a.line).localeCompare(b.camera + b.line));
  $("counts").querySelector("tbody").innerHTML = rows.map((r) =>
    `<tr><td>${esc(r.camera)}</td><td>${esc(r.line)}</td><td>${esc(r.direction)}</td>` +
    ["motorbike", "car", "bus", "truck"].map((k) => `<td>${r.by_class[k] || 0}</td>`).join("") +
    `<td>${r.total}</td></tr>`).join("");
}

function renderQueues() {
  $("queues").innerHTML = Object.values(state.lanes).map((l) =>
    `<div class="queue"><span>${esc(l.intersection)} ${esc(l.approach)} lane ${l.lane}</span>
     <span class="bar" style="width:${Math.min(200, l.queue_m)}px"></span><span>${l.queue_m.toFixed(0)} m</span></div>`).join("");
}

function renderHealth() {
  const items = [];
  for (const c of Object.values(state.cameras)) {
    items.push(`<li><span class="pill ${c.up ? "up" : "down"}">${c.up ? "up" : "down"}</span> camera ${esc(c.camera)} ${c.fps.toFixed(1)} fps ${c.cause ? esc(c.cause) : ""}</li>`);
  }
  for (const c of Object.values(state.controllers)) {
    items.push(`<li><span class="pill ${c.up ? "up" : "down"}">${c.up ? "up" : "down"}</span> controller ${esc(c.intersection)} ${esc(c.mode)} ${c.cause ? esc(c.cause) : ""}</li>`);
  }
  $("health").innerHTML = items.join("") || "<li>nothing reported yet</li>";
}

function addViolation(v, prepend) {
  const li = document.createElement("li");
  li.dataset.id = v.id;
  const img = v.evidence ? `<img alt="evidence" src="/api/violations/${encodeURIComponent(v.id)}/evidence">` : "";
  li.innerHTML = `${img}<span><b>${esc(v.kind)}</b> ${esc(v.class)} at ${esc(v.camera)}${v.speed_kmh ? `, ${v.speed_kmh.toFixed(0)} km/h` : ""}<br><small>${new Date(v.time_s * 1000).toLocaleTimeString()}</small></span>`;
  const list = $("violations");
  if (prepend) list.prepend(li); else list.append(li);
  while (list.children.length > 100) list.lastChild.remove();
}

// Lengths (s) of the greens each phase completed under the current plan, the signal
// engineer's first check that a plan took effect.
function recordGreens(intersection, before, after) {
  for (const a of after) {
    const b = before.find((x) => x.phase === a.phase);
    if (b && b.indication === "green" && a.indication !== "green") {
      const k = `${intersection}|${a.phase}`;
      (state.greens[k] ||= []).push(Math.round((a.since_s - b.since_s) * 10) / 10);
      if (state.greens[k].length > 10) state.greens[k].shift();
    }
  }
}

function countKey(c) { return `${c.camera}|${c.line}|${c.direction}`; }

function apply(u) {
  switch (u.type) {
    case "signals": recordGreens(u.intersection, state.signals[u.intersection] || [], u.phases); state.signals[u.intersection] = u.phases; renderCorridor(); break;
    case "plan":
      // Green lengths are kept per plan: a new plan starts a new record.
      for (const k of Object.keys(state.greens)) if (k.startsWith(`${u.intersection}|`)) delete state.greens[k];
      state.plans[u.intersection] = u.status; renderCorridor(); break;
    case "controller": state.controllers[u.status.intersection] = u.status; renderCorridor(); renderHealth(); break;
    case "camera": state.cameras[u.health.camera] = u.health; renderHealth(); break;
    case "lane": state.lanes[`${u.lane.intersection}|${u.lane.approach}|${u.lane.lane}`] = u.lane; renderQueues(); break;
    case "violation": addViolation(u.violation, true); break;
    case "count": {
      const c = u.count;
      const k = countKey(c);
      const row = state.counts.get(k) || { camera: c.camera, line: c.line, direction: c.direction, by_class: {}, total: 0 };
      row.by_class[c.class] = (row.by_class[c.class] || 0) + 1;
      row.total += 1;
      state.counts.set(k, row);
      state.total = u.total;
      renderCounts();
      break;
    }
  }
}

async function load() {
  state.corridor = await getJson("/api/corridor");
  $("site-name").textContent = state.corridor.site;
  $("override-intersection").innerHTML = state.corridor.intersections.map((i) => `<option>${esc(i.id)}</option>`).join("");
  $("override-plan").innerHTML = state.corridor.plans.map((p) => `<option value="${esc(p.id)}">${esc(p.id)} (${p.cycle_s} s)</option>`).join("");
  for (const i of await getJson("/api/intersections")) {
    if (i.signals) state.signals[i.id] = i.signals;
    if (i.plan) state.plans[i.id] = i.plan;
    if (i.controller) state.controllers[i.id] = i.controller;
    for (const l of i.lanes) state.lanes[`${l.intersection}|${l.approach}|${l.lane}`] = l;
  }
  const counts = await getJson("/api/counts?bin=86400");
  state.total = counts.total;
  for (const p of counts.series) {
    const k = countKey(p);
    const row = state.counts.get(k) || { camera: p.camera, line: p.line, direction: p.direction, by_class: {}, total: 0 };
    for (const [c, n] of Object.entries(p.by_class)) row.by_class[c] = (row.by_class[c] || 0) + n;
    row.total += p.total;
    state.counts.set(k, row);
  }
  const health = await getJson("/api/health");
  Object.assign(state.cameras, health.cameras);
  for (const v of await getJson("/api/violations?limit=100")) addViolation(v, false);
  renderCorridor(); renderCounts(); renderQueues(); renderHealth();
}

function connect() {
  const es = new EventSource("/api/stream");
  es.addEventListener("open", () => { $("stream-state").textContent = "live"; $("stream-state").className = "pill up"; });
  es.addEventListener("error", () => { $("stream-state").textContent = "reconnecting"; $("stream-state").className = "pill down"; });
  es.addEventListener("update", (e) => apply(JSON.parse(e.data)));
}

async function write(method, body) {
  const id = $("override-intersection").value;
  const r = await fetch(`/api/intersections/${encodeURIComponent(id)}/override`, {
    method,
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${$("override-token").value}` },
    body: body ? JSON.stringify(body) : undefined,
  });
  const j = await r.json().catch(() => ({}));
  $("override-result").textContent = r.ok ? `${id}: ${j.detail}` : `${id}: refused (${r.status}): ${j.error}`;
}

$("override-form").addEventListener("submit", (e) => { e.preventDefault(); write("POST", { plan: $("override-plan").value }); });
$("override-auto").addEventListener("click", () => write("DELETE"));
setInterval(() => { $("clock").textContent = new Date().toLocaleTimeString(); }, 1000);
load().then(connect).catch((e) => { $("stream-state").textContent = `error: ${e.message}`; });
