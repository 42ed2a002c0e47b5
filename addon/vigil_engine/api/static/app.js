// Vigil web UI: one plain ES module, no build step.
// Every URL is relative (no leading slash) so the UI works under any path
// prefix, e.g. Home Assistant ingress at /api/hassio_ingress/<token>/.
// Event data only ever reaches the page through textContent and attributes.

import { renderRecordings } from "./recordings.js";

const PAGE = 50;
const LIVE_MS = 2000;
const POLL_MS = 10000;
const SYSTEM_MS = 5000;
const LEVELS = ["low", "medium", "high", "critical"];
const LEVEL_FLOOR = { low: 0, medium: 30, high: 60, critical: 85 };
const COMMON_LABELS = ["person", "car", "truck", "bicycle", "motorcycle", "bus", "dog", "cat",
  "bird"];

const state = {
  authed: false,
  ingress: false,
  cameras: [],
  labels: new Set(COMMON_LABELS),
  filters: { camera: "", label: "", min_risk: "", q: "" },
  list: null, // the events list on screen, if any
  page: null, // the event page on screen, if any
  system: null, // the system page on screen, if any
};
let leaving = []; // clean-up functions of the current view

const $ = (sel) => document.querySelector(sel);
const enc = encodeURIComponent;

// ------------------------------------------------------------------ helpers

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, { method = "GET", body } = {}) {
  const opts = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  const data = (resp.headers.get("Content-Type") || "").includes("json")
    ? await resp.json().catch(() => null) : null;
  if (resp.status === 401 && path !== "api/login") {
    showLogin();
    throw new HttpError(401, "not signed in");
  }
  if (!resp.ok) throw new HttpError(resp.status, data?.error?.message || resp.statusText);
  return data;
}

/** Build an element. Strings among children become text nodes, never markup. */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "testid") node.dataset.testid = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function select(testid, label, options, value) {
  return h("select", { testid, "aria-label": label },
    options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
}

function riskLevel(ev) {
  const level = ev.risk?.risk_level;
  return LEVELS.includes(level) ? level : "none";
}

function fmtTime(t) {
  if (!t) return "–";
  const d = new Date(t * 1000);
  const today = new Date().toDateString() === d.toDateString();
  return today
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })
    : d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit",
      minute: "2-digit" });
}

const fmtFull = (t) => (t ? new Date(t * 1000).toLocaleString() : "–");

function fmtDuration(s) {
  if (s === null || s === undefined) return "–";
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  if (s < 86400) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} days`;
}

function fmtBytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${n.toFixed(i && n < 10 ? 1 : 0)} ${units[i]}`;
}

const num = (v, digits = 1) => (typeof v === "number" ? v.toFixed(digits) : "–");
const yesNo = (v) => (v ? "yes" : "no");

function toast(message, kind = "error") {
  for (const old of document.querySelectorAll(".toast")) old.remove();
  const node = h("div", { class: `toast ${kind}`, role: "status", testid: "toast" }, message);
  document.body.append(node);
  setTimeout(() => node.remove(), 4000);
}

function onLeave(fn) {
  leaving.push(fn);
}

// ------------------------------------------------------------------ auth

function showLogin() {
  if (!state.authed && !$("#login").hidden) return;
  state.authed = false;
  teardown();
  live.close();
  $("#nav").hidden = true;
  $("#logout").hidden = true;
  $("#conn").hidden = true;
  $("#view").replaceChildren();
  $("#login").hidden = false;
  $("#token").focus();
}

async function login(event) {
  event.preventDefault();
  const error = $("#login-error");
  error.hidden = true;
  const input = $("#token");
  try {
    await api("api/login", { method: "POST", body: { token: input.value.trim() } });
  } catch (err) {
    error.textContent = err.status === 401 ? "Wrong token." : err.message;
    error.hidden = false;
    return;
  }
  input.value = "";
  await start();
}

async function logout() {
  await api("api/logout", { method: "POST" }).catch(() => null);
  showLogin();
}

async function start() {
  let session;
  try {
    session = await api("api/session");
  } catch (err) {
    if (err.status !== 401) {
      $("#view").replaceChildren(h("p", { class: "error" }, `Engine unreachable: ${err.message}`));
      setTimeout(start, 5000);
    }
    return;
  }
  state.authed = true;
  state.ingress = Boolean(session.ingress);
  $("#login").hidden = true;
  $("#nav").hidden = false;
  $("#logout").hidden = state.ingress;
  try {
    const { cameras } = await api("api/cameras");
    state.cameras = cameras.map((c) => c.name);
    // The label filter offers what the cameras track (plus labels seen in events).
    const tracked = cameras.flatMap((c) => c.tracked_labels || []);
    if (tracked.length) state.labels = new Set(tracked);
  } catch {
    state.cameras = [];
  }
  live.connect();
  route();
}

// ------------------------------------------------------------------ router

function teardown() {
  for (const fn of leaving.splice(0)) fn();
  state.list = null;
  state.page = null;
  state.system = null;
}

function route() {
  if (!state.authed) return;
  teardown();
  const [name = "", arg] = location.hash.replace(/^#\/?/, "").split("/");
  for (const link of document.querySelectorAll("#nav a")) {
    const current = link.dataset.view === (name || "live") || (name === "event"
      && link.dataset.view === "events");
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const view = $("#view");
  view.replaceChildren();
  window.scrollTo(0, 0);
  if (name === "" || name === "live") renderLive(view);
  else if (name === "events") renderEvents(view);
  else if (name === "event" && arg) renderEvent(view, decodeURIComponent(arg));
  else if (name === "system") renderSystem(view);
  else if (name === "recordings") {
    const parts = location.hash.replace(/^#\/?/, "").split("/");
    renderRecordings(view, { h, api, enc, toast, onLeave, cameras: () => state.cameras },
      { cameras: (parts[1] || "").split(",").filter(Boolean).map(decodeURIComponent),
        date: parts[2] || null });
  }
  else view.append(h("p", { class: "muted" }, "Nothing here. "), h("a", { href: "#/" }, "Live"));
}

// ------------------------------------------------------------------ live view

function cameraTile(name) {
  const img = h("img", { class: "frame", alt: `${name} live view` });
  const badge = h("span", { class: "badge" });
  const fps = h("span", { class: "muted small" });
  const objects = h("span", { class: "objects small" });
  const node = h("figure", { class: "tile noframe", testid: "camera-tile", "data-camera": name,
    title: "Click for live video" },
  h("div", { class: "frame-wrap" }, img, h("span", { class: "frame-note" }, "no frame yet")),
  h("figcaption", {}, h("strong", {}, name), badge, fps, objects));
  let blobUrl = null;
  let streaming = false;
  let busy = false;
  let frigate = false; // Frigate's cameras: stills from Frigate, no MJPEG here

  async function refresh() {
    if (streaming || busy) return;
    busy = true;
    try {
      const resp = await fetch(`api/cameras/${enc(name)}/latest.jpg?height=480`,
        { credentials: "same-origin", cache: "no-store" });
      if (!resp.ok) throw new Error(String(resp.status));
      const url = URL.createObjectURL(await resp.blob());
      if (streaming) {
        URL.revokeObjectURL(url);
      } else {
        img.src = url;
        if (blobUrl) URL.revokeObjectURL(blobUrl);
        blobUrl = url;
        node.classList.remove("noframe");
      }
    } catch {
      node.classList.add("noframe");
    } finally {
      busy = false;
    }
  }

  node.addEventListener("click", () => {
    if (frigate) return;
    streaming = !streaming;
    node.classList.toggle("expanded", streaming);
    if (streaming) img.src = `api/cameras/${enc(name)}/mjpeg?fps=5`;
    else refresh();
  });

  return {
    node,
    update(cam) {
      const online = cam.status === "online";
      badge.textContent = online ? "online" : "offline";
      badge.className = `badge ${online ? "ok" : "bad"}`;
      badge.title = cam.error || "";
      frigate = cam.source === "frigate";
      fps.textContent = frigate ? `Frigate · ${cam.server}` : `${num(cam.fps)} fps`;
      if (frigate) node.title = "Picture from Frigate";
      const counts = Object.entries(cam.objects || {}).filter(([, n]) => n > 0);
      objects.textContent = counts.length
        ? counts.map(([label, n]) => `${label} ${n}`).join(" · ") : "no objects";
      node.classList.toggle("active", Boolean(cam.event_id));
      refresh();
    },
    stop() {
      streaming = false;
      img.removeAttribute("src"); // closes an MJPEG stream
      if (blobUrl) URL.revokeObjectURL(blobUrl);
    },
  };
}

function renderLive(view) {
  const grid = h("div", { class: "grid", testid: "camera-grid" });
  view.append(grid);
  const tiles = new Map();
  let alive = true;
  let timer = null;
  async function tick() {
    try {
      const { cameras } = await api("api/cameras");
      if (!alive) return;
      if (!cameras.length) grid.replaceChildren(h("p", { class: "muted" }, "No cameras."));
      for (const cam of cameras) {
        let tile = tiles.get(cam.name);
        if (!tile) {
          tile = cameraTile(cam.name);
          tiles.set(cam.name, tile);
          grid.append(tile.node);
        }
        tile.update(cam);
      }
    } catch (err) {
      if (err.status === 401 || !alive) return;
    }
    timer = setTimeout(tick, LIVE_MS);
  }
  onLeave(() => {
    alive = false;
    clearTimeout(timer);
    for (const tile of tiles.values()) tile.stop();
  });
  tick();
}

// ------------------------------------------------------------------ events list

function eventRow(ev) {
  const level = riskLevel(ev);
  const risk = ev.risk || {};
  const thumb = ev.has_snapshot
    ? h("img", { class: "thumb", src: `api/events/${enc(ev.id)}/snapshot.jpg`, alt: "",
      loading: "lazy" })
    : h("div", { class: "thumb empty" }, "no image");
  const markers = [];
  if (ev.acknowledged) markers.push(h("span", { class: "marker", testid: "ack-marker" }, "seen"));
  if (ev.protected) markers.push(h("span", { class: "marker kept", testid: "protected-marker" },
    "protected"));
  if (!ev.end_time) markers.push(h("span", { class: "marker ongoing" }, "ongoing"));
  return h("a", { class: `event-row risk-${level}`, href: `#/event/${enc(ev.id)}`,
    testid: "event-row", "data-id": ev.id, "data-risk": level },
  thumb,
  h("div", { class: "ev-main" },
    h("div", { class: "ev-head" },
      h("time", { datetime: new Date(ev.start_time * 1000).toISOString(),
        title: fmtFull(ev.start_time) }, fmtTime(ev.start_time)),
      h("span", { class: "cam" }, ev.camera),
      (ev.labels || []).map((l) => h("span", { class: "chip" }, l))),
    h("div", { class: "ev-summary" }, risk.summary || (ev.labels || []).join(", ") || "event"),
    h("div", { class: "ev-foot" }, markers,
      h("span", { class: "muted small" },
        ev.end_time ? fmtDuration(ev.end_time - ev.start_time) : ""))),
  h("span", { class: `level level-${level}`, testid: "risk",
    title: level === "none" ? "not scored" : `risk ${risk.risk_score}/100` },
  level === "none" ? "—" : `${level} ${risk.risk_score}`));
}

function matchesFilters(ev) {
  const f = state.filters;
  if (f.camera && ev.camera !== f.camera) return false;
  if (f.label && !(ev.labels || []).includes(f.label)) return false;
  if (f.min_risk && (ev.risk?.risk_score ?? 0) < LEVEL_FLOOR[f.min_risk]) return false;
  return true;
}

function renderEvents(view) {
  const f = state.filters;
  const camSel = select("filter-camera", "Camera",
    [["", "All cameras"], ...state.cameras.map((c) => [c, c])], f.camera);
  const labelSel = select("filter-label", "Object",
    [["", "All objects"], ...[...state.labels].sort().map((l) => [l, l])], f.label);
  const riskSel = select("filter-risk", "Minimum risk",
    [["", "Any risk"], ["medium", "Medium +"], ["high", "High +"], ["critical", "Critical"]],
    f.min_risk);
  const search = h("input", { type: "search", testid: "search", "aria-label": "Search events",
    placeholder: "Search, e.g. person at night", value: f.q, autocomplete: "off" });
  const list = h("div", { class: "events", testid: "events-list", "aria-live": "polite" });
  const status = h("p", { class: "muted center", testid: "events-status" });
  const more = h("button", { type: "button", class: "ghost wide", testid: "load-more",
    hidden: true }, "Load more");
  view.append(h("div", { class: "filters" }, search, camSel, labelSel, riskSel), list, status,
    more);

  const rows = new Map(); // id -> {ev, node}
  let cursor = null;
  let seq = 0;
  let debounce = null;

  /** Insert a new row where it belongs (newest first); false if it is on a later page. */
  function place(ev, node) {
    for (const other of list.children) {
      if (rows.get(other.dataset.id)?.ev.start_time < ev.start_time) {
        list.insertBefore(node, other);
        return true;
      }
    }
    if (cursor) return false;
    list.append(node);
    return true;
  }

  function add(ev) {
    for (const l of ev.labels || []) state.labels.add(l);
    const node = eventRow(ev);
    const old = rows.get(ev.id);
    if (old) old.node.replaceWith(node);
    else if (!place(ev, node)) return;
    rows.set(ev.id, { ev, node });
    updateStatus();
  }

  function updateStatus() {
    status.textContent = rows.size ? "" : "No events match.";
    status.dataset.empty = rows.size ? "false" : "true";
    more.hidden = !cursor;
  }

  async function load(reset) {
    const mine = ++seq;
    const params = new URLSearchParams({ limit: String(PAGE) });
    for (const key of ["camera", "label", "min_risk", "q"]) if (f[key]) params.set(key, f[key]);
    if (!reset && cursor) params.set("cursor", cursor);
    more.disabled = true;
    if (reset) status.textContent = "Loading…";
    let page;
    try {
      page = await api(`api/events?${params}`);
    } catch (err) {
      if (mine === seq && err.status !== 401) status.textContent = `Could not load: ${err.message}`;
      return;
    } finally {
      more.disabled = false;
    }
    if (mine !== seq) return; // a newer query answered or will answer
    if (reset) {
      rows.clear();
      list.replaceChildren();
    }
    cursor = page.next_cursor;
    for (const ev of page.events) {
      if (rows.has(ev.id)) continue;
      for (const l of ev.labels || []) state.labels.add(l);
      const node = eventRow(ev);
      rows.set(ev.id, { ev, node });
      list.append(node);
    }
    updateStatus();
    list.dataset.loaded = String(mine); // lets a test wait for a finished query
  }

  function changed() {
    f.camera = camSel.value;
    f.label = labelSel.value;
    f.min_risk = riskSel.value;
    f.q = search.value.trim();
    load(true);
  }

  for (const sel of [camSel, labelSel, riskSel]) sel.addEventListener("change", changed);
  search.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(changed, 300);
  });
  search.addEventListener("change", () => {
    if (search.value.trim() === f.q) return;
    clearTimeout(debounce);
    changed();
  });
  search.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      clearTimeout(debounce);
      changed();
    }
  });
  more.addEventListener("click", () => load(false));

  state.list = {
    /** A pushed event: update its row, or insert it when it belongs in this list. */
    push(ev) {
      if (rows.has(ev.id)) add(ev);
      else if (f.q) {
        // Free-text matching is the server's: ask it again, a little later.
        clearTimeout(debounce);
        debounce = setTimeout(() => load(true), 1000);
      } else if (matchesFilters(ev)) add(ev);
    },
    /** Polling fallback: the newest page, merged in. */
    async poll() {
      const params = new URLSearchParams({ limit: String(PAGE) });
      for (const key of ["camera", "label", "min_risk", "q"]) if (f[key]) params.set(key, f[key]);
      try {
        const page = await api(`api/events?${params}`);
        if (state.list) for (const ev of page.events.reverse()) add(ev);
      } catch {
        // the next poll tries again
      }
    },
  };
  onLeave(() => clearTimeout(debounce));
  load(true);
}

// ------------------------------------------------------------------ one event

function detailList(pairs) {
  return h("dl", { class: "details" },
    pairs.filter(([, v]) => v !== null && v !== undefined && v !== "")
      .flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function objectsTable(objects) {
  if (!objects?.length) return h("p", { class: "muted" }, "No objects.");
  return h("div", { class: "table-wrap" }, h("table", { testid: "objects" },
    h("thead", {}, h("tr", {}, ["Object", "Score", "Zones", "Dwell", "Stationary", "Loitering"]
      .map((t) => h("th", {}, t)))),
    h("tbody", {}, objects.map((o) => h("tr", {},
      h("td", {}, o.label),
      h("td", {}, `${Math.round((o.top_score ?? o.score ?? 0) * 100)}%`),
      h("td", {}, (o.zones || []).join(", ") || "–"),
      h("td", {}, fmtDuration(o.dwell)),
      h("td", {}, yesNo(o.stationary)),
      h("td", {}, o.loitering ? `yes (${(o.loitering_zones || []).join(", ")})` : "no"))))));
}

async function renderEvent(view, id) {
  const page = h("article", { class: "event-page", testid: "event-page" });
  view.append(h("a", { href: "#/events", class: "back" }, "← Events"), page);
  let ev;
  try {
    ev = await api(`api/events/${enc(id)}`);
  } catch (err) {
    if (err.status !== 401) page.append(h("p", { class: "error" }, err.message));
    return;
  }
  if (!view.contains(page)) return; // navigated away meanwhile

  const title = h("h1", {});
  const media = h("div", { class: "media" });
  const info = h("div", { class: "info" });
  const ack = h("button", { type: "button", testid: "ack" }, "Acknowledge");
  const protect = h("button", { type: "button", testid: "protect" });
  const rescore = h("button", { type: "button", class: "ghost", testid: "rescore" }, "Rescore");
  page.append(title, media, h("div", { class: "actions" }, ack, protect, rescore), info);

  let hasClip = false;
  let hasSnapshot = false;

  function renderMedia() {
    if (ev.has_snapshot && !hasSnapshot) {
      hasSnapshot = true;
      media.prepend(h("figure", { class: "snap" },
        h("img", { src: `api/events/${enc(ev.id)}/snapshot.jpg?bbox=1`, alt: "Best frame",
          testid: "snapshot" }),
        h("figcaption", { class: "muted small" }, "Best frame")));
    }
    if (ev.has_clip && !hasClip) {
      hasClip = true;
      const note = h("figcaption", { class: "muted small" }, "Recording");
      const video = h("video", { controls: true, preload: "metadata", playsinline: true,
        src: `api/events/${enc(ev.id)}/clip.mp4`, testid: "clip" });
      video.addEventListener("error", () => {
        note.textContent = ev.end_time ? "The clip could not be loaded."
          : "The clip is ready once the event ends.";
      });
      media.append(h("figure", { class: "clip" }, video, note));
    }
    if (!ev.has_snapshot && !ev.has_clip) {
      media.replaceChildren(h("p", { class: "muted" }, "No snapshot or recording."));
    }
  }

  function render() {
    const level = riskLevel(ev);
    const risk = ev.risk || {};
    title.replaceChildren(h("span", { class: `level level-${level}` },
      level === "none" ? "not scored" : level),
    ` ${risk.summary || (ev.labels || []).join(", ") || "Event"}`);
    page.className = `event-page risk-${level}`;
    renderMedia();
    ack.disabled = Boolean(ev.acknowledged);
    ack.textContent = ev.acknowledged ? "Acknowledged" : "Acknowledge";
    protect.textContent = ev.protected ? "Unprotect" : "Protect";
    protect.setAttribute("aria-pressed", String(Boolean(ev.protected)));
    info.replaceChildren(
      h("section", { class: "card" }, h("h2", {}, "Assessment"),
        h("p", { class: "summary", testid: "summary" }, risk.summary || "No assessment yet."),
        risk.reasoning ? h("p", { class: "reasoning muted", testid: "reasoning" },
          risk.reasoning) : null,
        detailList([
          ["Risk", level === "none" ? "–" : `${risk.risk_score}/100 (${level})`],
          ["Activity", risk.activity_type],
          ["Provider", risk.provider ? `${risk.provider}${risk.model ? ` · ${risk.model}` : ""}`
            : null],
          ["Status", risk.status],
          ["Alert", ev.alert ? "yes" : ev.alert_reason ? `no (${ev.alert_reason})` : "no"],
        ])),
      h("section", { class: "card" }, h("h2", {}, "Event"),
        detailList([
          ["Camera", ev.camera],
          ["Started", fmtFull(ev.start_time)],
          ["Ended", ev.end_time ? fmtFull(ev.end_time) : "ongoing"],
          ["Duration", ev.end_time ? fmtDuration(ev.end_time - ev.start_time) : null],
          ["Objects", (ev.labels || []).join(", ") || "–"],
          ["Zones", (ev.zones || []).join(", ") || "none"],
          ["Flags", [ev.acknowledged && "acknowledged", ev.protected && "protected"]
            .filter(Boolean).join(", ") || "–"],
          ["Id", ev.id],
        ])),
      h("section", { class: "card wide" }, h("h2", {}, "Objects"), objectsTable(ev.objects)));
  }

  async function act(button, path, body, done) {
    button.disabled = true;
    try {
      const result = await api(path, { method: "POST", body });
      done(result);
    } catch (err) {
      if (err.status !== 401) toast(err.message);
    } finally {
      button.disabled = false;
      render();
    }
  }

  ack.addEventListener("click", () => act(ack, `api/events/${enc(ev.id)}/acknowledge`,
    { acknowledged: true }, (updated) => { ev = updated; }));
  protect.addEventListener("click", () => act(protect, `api/events/${enc(ev.id)}/protect`,
    { protected: !ev.protected }, (updated) => { ev = updated; }));
  rescore.addEventListener("click", () => act(rescore, `api/events/${enc(ev.id)}/rescore`,
    undefined, () => {
      toast("Rescoring queued", "ok");
      setTimeout(async () => {
        if (state.page?.id !== ev.id) return;
        ev = await api(`api/events/${enc(ev.id)}`).catch(() => ev);
        render();
      }, 2000);
    }));

  state.page = {
    id: ev.id,
    push(updated) {
      ev = updated;
      render();
    },
  };
  render();
}

// ------------------------------------------------------------------ system

function table(head, rows) {
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, head.map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c)))))));
}

function renderStats(s) {
  const cams = Object.values(s.cameras || {});
  const st = s.storage || {};
  const det = s.detector || {};
  const risk = s.risk || {};
  const budget = risk.budget || {};
  const jobs = Object.entries(risk.jobs || {}).map(([k, v]) => `${k} ${v}`).join(", ");
  const now = Date.now() / 1000;
  return [
    h("section", { class: "card wide" }, h("h2", {}, "Cameras"),
      table(["Camera", "Status", "FPS", "Detect FPS", "Resolution", "Recording", "Events",
        "Reconnects"],
      cams.map((c) => [c.name,
        h("span", { class: `badge ${c.status === "online" ? "ok" : "bad"}`, title: c.error || "" },
          c.status),
        num(c.fps), num(c.detect_fps), c.resolution ? c.resolution.join("×") : "–",
        c.record?.enabled ? `${c.record.segments_written} segments` : "off",
        String(c.stats?.events_opened ?? "–"), String(c.stats?.reconnects ?? "–")]))),
    h("section", { class: "card" }, h("h2", {}, "Detector"),
      detailList([["Model", det.model], ["Inference", `${num(det.inference_ms)} ms`],
        ["Inferences", String(det.inferences ?? "–")], ["Errors", String(det.errors ?? "–")],
        ["Queue", String(det.queue ?? "–")], ["Threads", String(det.threads ?? "–")]])),
    h("section", { class: "card" }, h("h2", {}, "Risk"),
      detailList([["Provider", risk.provider], ["Model", risk.model],
        ["Circuit", risk.circuit], ["Jobs", jobs || "none"],
        ["Calls today", budget.calls_per_day !== undefined
          ? `${budget.calls} / ${budget.calls_per_day}` : null],
        ["Tokens today", budget.tokens_per_day !== undefined
          ? `${budget.tokens} / ${budget.tokens_per_day}` : null]])),
    h("section", { class: "card" }, h("h2", {}, "Storage"),
      detailList([["Used", fmtBytes(st.used_bytes)],
        ["Free", `${fmtBytes(st.free_bytes)} of ${fmtBytes(st.total_bytes)}`],
        ["Oldest footage", st.oldest_footage
          ? `${fmtFull(st.oldest_footage)} (${fmtDuration(now - st.oldest_footage)} ago)` : "none"],
        ["Limit", st.max_size_gb ? `${st.max_size_gb} GB` : null],
        ["Keep free", st.min_free_gb ? `${st.min_free_gb} GB` : null]]),
      table(["Camera", "Segments", "Size", "Oldest"],
        Object.entries(st.cameras || {}).map(([name, c]) => [name, String(c.segments),
          fmtBytes(c.bytes), fmtTime(c.oldest)]))),
  ];
}

async function renderSystem(view) {
  const modeSel = h("select", { testid: "mode", "aria-label": "Arm mode", disabled: true });
  const body = h("div", { class: "cards", testid: "stats" }, h("p", { class: "muted" }, "Loading…"));
  view.append(h("div", { class: "filters" }, h("label", { class: "inline" }, "Arm mode ", modeSel)),
    body);
  let alive = true;
  let timer = null;

  modeSel.addEventListener("change", async () => {
    modeSel.disabled = true;
    try {
      await api("api/mode", { method: "POST", body: { mode: modeSel.value } });
      toast(`Mode: ${modeSel.value}`, "ok");
    } catch (err) {
      if (err.status !== 401) toast(err.message);
    } finally {
      modeSel.disabled = false;
    }
  });

  api("api/mode").then(({ mode, modes }) => {
    modeSel.replaceChildren(...modes.map((m) => h("option", { value: m, selected: m === mode },
      m)));
    modeSel.disabled = false;
  }).catch(() => null);

  async function tick() {
    try {
      const stats = await api("api/stats");
      if (!alive) return;
      body.replaceChildren(...renderStats(stats));
    } catch (err) {
      if (err.status === 401 || !alive) return;
      body.replaceChildren(h("p", { class: "error" }, err.message));
    }
    timer = setTimeout(tick, SYSTEM_MS);
  }
  state.system = {
    mode(mode) {
      if (document.activeElement !== modeSel) modeSel.value = mode;
    },
  };
  onLeave(() => {
    alive = false;
    clearTimeout(timer);
  });
  tick();
}

// ------------------------------------------------------------------ live updates

function setConn(mode) {
  const conn = $("#conn");
  conn.hidden = false;
  conn.className = `conn ${mode}`;
  conn.textContent = mode === "live" ? "live" : "polling";
  conn.title = mode === "live" ? "Live updates over WebSocket" : "Refreshing every 10 s";
}

function onPush(push) {
  if (push.action === "mode") {
    state.system?.mode(push.data.mode);
    return;
  }
  const ev = push.data;
  if (!ev?.id) return;
  state.list?.push(ev);
  if (state.page?.id === ev.id) state.page.push(ev);
}

/** Without the WebSocket: refresh what is on screen every POLL_MS. */
async function pollOnce() {
  state.list?.poll();
  const page = state.page;
  if (!page) return;
  const ev = await api(`api/events/${enc(page.id)}`).catch(() => null);
  if (ev && state.page === page) page.push(ev);
}

const live = {
  ws: null,
  retries: 0,
  retryTimer: null,
  pollTimer: null,

  connect() {
    clearTimeout(this.retryTimer);
    if (!state.authed || this.ws) return;
    const url = new URL("api/ws", location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.hash = "";
    let ws;
    try {
      ws = new WebSocket(url);
    } catch {
      this.down();
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "auth" })));
    ws.addEventListener("message", (m) => {
      let msg;
      try {
        msg = JSON.parse(m.data);
      } catch {
        return;
      }
      if (msg.type === "auth_ok") ws.send(JSON.stringify({ id: 1, type: "events/subscribe" }));
      else if (msg.type === "auth_invalid") ws.close();
      else if (msg.type === "result" && msg.id === 1) {
        if (msg.success) this.up();
        else ws.close();
      } else if (msg.type === "event" && msg.id === 1) onPush(msg.event);
    });
    ws.addEventListener("close", () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.down();
    });
  },

  up() {
    this.retries = 0;
    clearInterval(this.pollTimer);
    this.pollTimer = null;
    setConn("live");
  },

  down() {
    if (!state.authed) return;
    setConn("polling");
    if (!this.pollTimer) this.pollTimer = setInterval(pollOnce, POLL_MS);
    const delay = Math.min(60000, 2000 * 2 ** this.retries);
    this.retries += 1;
    this.retryTimer = setTimeout(() => this.connect(), delay);
  },

  close() {
    clearTimeout(this.retryTimer);
    clearInterval(this.pollTimer);
    this.pollTimer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close();
  },
};

// ------------------------------------------------------------------ boot

$("#login").addEventListener("submit", login);
$("#logout").addEventListener("click", logout);
window.addEventListener("hashchange", route);
start();
