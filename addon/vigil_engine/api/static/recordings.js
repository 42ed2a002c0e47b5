// Recordings view: a day timeline per camera and synced HLS playback of the footage.
// The engine serves each continuous run of segments as an HLS playlist (remuxed,
// never re-encoded); hls.js (bundled, loaded on first use) plays it where the
// browser has no native HLS. Player time 0 is the run's first segment start, so
// wall time = run start + currentTime.

const SPEEDS = [1, 2, 4, 8, 16];
const MAX_CAMERAS = 4;
const STEP = 5; // seconds per arrow key
const PREVIEW_HEIGHT = 90;
const MAX_EXPORT = 3600;

let hlsLoading = null;

/** Load the bundled hls.js once (a classic script that defines window.Hls). */
function loadHls() {
  if (window.Hls) return Promise.resolve(window.Hls);
  if (!hlsLoading) {
    hlsLoading = new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = "ui/hls.js";
      s.onload = () => resolve(window.Hls);
      s.onerror = () => reject(new Error("hls.js did not load"));
      document.head.append(s);
    });
  }
  return hlsLoading;
}

function parsePlaylist(text) {
  const pdt = /#EXT-X-PROGRAM-DATE-TIME:(\S+)/.exec(text);
  const base = pdt ? Date.parse(pdt[1]) / 1000 : null;
  let duration = 0;
  for (const m of text.matchAll(/#EXTINF:([\d.]+),/g)) duration += Number(m[1]);
  return { base, duration, growing: !text.includes("#EXT-X-ENDLIST") };
}

function fmtSpan(s) {
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** Shift a YYYY-MM-DD string by whole days (date-only arithmetic, no time zone). */
function shiftDay(day, n) {
  const d = new Date(`${day}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

export function renderRecordings(view, ctx, args) {
  const { h, api, enc, toast, onLeave } = ctx;
  const allCameras = ctx.cameras();
  let cameras = (args.cameras || []).filter((c) => allCameras.includes(c)).slice(0, MAX_CAMERAS);
  if (!cameras.length && allCameras.length) cameras = [allCameras[0]];
  let day = args.date || null;
  let tz; // the engine's zone (IANA name) or undefined for the browser's
  let fmtClock;
  let fmtHour;
  const timelines = new Map(); // camera -> timeline data
  const players = [];
  let rate = 1;
  let selecting = false;
  let selection = null; // [start, end] for export
  let alive = true;
  let zoom = 86400; // visible seconds of the day
  let focus = null; // centre of the visible window (epoch seconds)
  let W0 = 0; // visible window, set per render
  let W1 = 1;

  // ---------------------------------------------------------------- layout
  const camPicker = h("div", { class: "cam-picker", role: "group", "aria-label": "Cameras" },
    allCameras.map((c) => h("label", { class: "chip-toggle" },
      h("input", { type: "checkbox", value: c, checked: cameras.includes(c),
        testid: "rec-camera" }), c)));
  const dateInput = h("input", { type: "date", testid: "rec-date", "aria-label": "Day" });
  const prevDay = h("button", { type: "button", class: "ghost", title: "Previous day",
    "aria-label": "Previous day" }, "‹");
  const nextDay = h("button", { type: "button", class: "ghost", title: "Next day",
    "aria-label": "Next day" }, "›");
  const playBtn = h("button", { type: "button", testid: "rec-play", title: "Play/pause (space, K)" },
    "▶");
  const prevEv = h("button", { type: "button", class: "ghost", testid: "rec-prev-event",
    title: "Previous event (P)" }, "« Event");
  const nextEv = h("button", { type: "button", class: "ghost", testid: "rec-next-event",
    title: "Next event (N)" }, "Event »");
  const zoomSel = h("select", { testid: "rec-zoom", "aria-label": "Zoom" },
    [[86400, "24 h"], [21600, "6 h"], [3600, "1 h"], [900, "15 min"], [300, "5 min"],
      [60, "1 min"]].map(([v, t]) => h("option", { value: String(v) }, t)));
  const speedSel = h("select", { testid: "rec-speed", "aria-label": "Speed" },
    SPEEDS.map((s) => h("option", { value: String(s) }, `${s}×`)));
  const liveBtn = h("button", { type: "button", class: "ghost", testid: "rec-live",
    title: "Live view" }, "● Live");
  const selectBtn = h("button", { type: "button", class: "ghost", testid: "rec-select",
    "aria-pressed": "false", title: "Drag on the timeline to choose a span (or Shift+drag)" },
  "Select span");
  const exportBtn = h("button", { type: "button", testid: "rec-export", disabled: true },
    "Export MP4");
  const progress = h("progress", { testid: "rec-export-progress", max: 1, hidden: true });
  const exportNote = h("span", { class: "muted small", testid: "rec-export-note" });
  const clock = h("span", { class: "rec-clock", testid: "rec-clock" }, "–");
  const grid = h("div", { class: "players", testid: "rec-players" });
  const rows = h("div", { class: "timelines", testid: "rec-timelines" });
  const note = h("p", { class: "muted small", testid: "rec-note" });

  view.append(
    h("div", { class: "filters rec-bar" }, camPicker,
      h("span", { class: "rec-day" }, prevDay, dateInput, nextDay)),
    grid,
    h("div", { class: "rec-controls" }, playBtn, prevEv, nextEv, speedSel, liveBtn, zoomSel,
      clock),
    rows,
    h("div", { class: "rec-controls" }, selectBtn, exportBtn, progress, exportNote),
    note);

  // ---------------------------------------------------------------- players

  function makePlayer(camera) {
    const video = h("video", { playsinline: true, muted: true, preload: "auto",
      testid: "rec-video", "data-camera": camera });
    const live = h("img", { class: "rec-live", alt: `${camera} live`, hidden: true });
    const label = h("span", { class: "rec-label" }, camera);
    const status = h("span", { class: "rec-status small", testid: "rec-status" });
    const node = h("figure", { class: "player", testid: "player", "data-camera": camera },
      video, live, h("figcaption", {}, label, status));
    const p = {
      camera, video, node, hls: null, base: null, duration: 0, growing: false, loading: null,
      live: false, want: null,

      wall() {
        if (this.base === null) return null;
        return this.base + video.currentTime;
      },

      covers(t) {
        return this.base !== null && t >= this.base - 0.05
          && (this.growing || t < this.base + this.duration);
      },

      async seek(t, { play = true } = {}) {
        this.stopLive();
        this.want = t;
        if (this.covers(t) && !this.loading) {
          video.currentTime = Math.max(0, t - this.base);
          if (play) this.play();
          return;
        }
        await this.load(t, play);
      },

      async load(t, play) {
        const mine = Symbol("load");
        this.loading = mine;
        status.textContent = "loading…";
        const url = `api/cameras/${enc(camera)}/vod.m3u8?start=${t.toFixed(3)}`;
        let text;
        try {
          const resp = await fetch(url, { credentials: "same-origin", cache: "no-store" });
          if (resp.status === 404) {
            this.unload();
            status.textContent = "no footage in the next hours";
            node.classList.add("empty");
            return;
          }
          if (!resp.ok) throw new Error(`${resp.status}`);
          text = await resp.text();
        } catch (err) {
          if (this.loading === mine) status.textContent = `cannot play (${err.message})`;
          this.loading = null;
          return;
        }
        if (this.loading !== mine) return;
        node.classList.remove("empty");
        const info = parsePlaylist(text);
        this.unload();
        this.loading = mine;
        this.base = info.base;
        this.duration = info.duration;
        this.growing = info.growing;
        video.dataset.base = String(info.base);
        const position = Math.max(0, t - info.base);
        const native = !window.MediaSource && video.canPlayType("application/vnd.apple.mpegurl");
        if (native) {
          video.src = url;
          video.addEventListener("loadedmetadata", () => {
            video.currentTime = position;
          }, { once: true });
        } else {
          let Hls;
          try {
            Hls = await loadHls();
          } catch (err) {
            status.textContent = err.message;
            this.loading = null;
            return;
          }
          if (this.loading !== mine) return;
          const hls = new Hls({ enableWorker: false, startPosition: position,
            maxBufferLength: 20, backBufferLength: 30, liveDurationInfinity: true,
            xhrSetup: (xhr) => { xhr.withCredentials = true; } });
          this.hls = hls;
          hls.on(Hls.Events.ERROR, (_e, data) => {
            if (data.fatal) {
              status.textContent = `playback error: ${data.details}`;
              if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
            }
          });
          hls.on(Hls.Events.LEVEL_UPDATED, (_e, data) => {
            this.duration = data.details.totalduration;
            this.growing = data.details.live;
          });
          hls.loadSource(url);
          hls.attachMedia(video);
        }
        video.playbackRate = rate;
        this.loading = null;
        status.textContent = "";
        if (play) this.play();
      },

      play() {
        video.playbackRate = rate;
        const result = video.play();
        if (result) result.catch(() => null);
      },

      pause() {
        video.pause();
      },

      unload() {
        if (this.hls) this.hls.destroy();
        this.hls = null;
        this.base = null;
        this.duration = 0;
        video.removeAttribute("src");
        video.load();
      },

      goLive() {
        this.unload();
        this.live = true;
        live.hidden = false;
        live.src = `api/cameras/${enc(camera)}/mjpeg?fps=5`;
        node.classList.add("is-live");
        status.textContent = "LIVE";
      },

      stopLive() {
        if (!this.live) return;
        this.live = false;
        live.removeAttribute("src");
        live.hidden = true;
        node.classList.remove("is-live");
        status.textContent = "";
      },

      destroy() {
        this.stopLive();
        this.unload();
      },
    };

    video.addEventListener("ended", () => {
      // The run is over: carry on with the next footage after it.
      const end = p.base + p.duration;
      // A very long run is served in windows: carry on inside it, else after the gap.
      const tl = timelines.get(camera);
      const more = tl?.spans.some((sp) => end + 0.5 >= sp.start && end + 0.5 < sp.end);
      const next = more ? end + 0.05 : nextSpanStart(camera, end);
      if (next !== null) p.seek(next);
    });
    video.addEventListener("play", syncButtons);
    video.addEventListener("pause", syncButtons);
    return p;
  }

  function master() {
    return players[0] || null;
  }

  function nextSpanStart(camera, after) {
    const tl = timelines.get(camera);
    if (!tl) return null;
    const span = tl.spans.find((s) => s.start > after + 0.5);
    return span ? span.start : null;
  }

  function syncButtons() {
    const m = master();
    const playing = m && !m.video.paused;
    playBtn.textContent = playing ? "❚❚" : "▶";
    playBtn.setAttribute("aria-label", playing ? "Pause" : "Play");
  }

  function seekAll(t, { play = true } = {}) {
    rows.dataset.seek = String(t); // where the last click or key asked to go
    for (const p of players) p.seek(t, { play });
    drawCursor(t);
  }

  function togglePlay() {
    const m = master();
    if (!m) return;
    if (m.base === null && !m.live) {
      const tl = timelines.get(m.camera);
      const start = tl?.spans[0]?.start;
      if (start !== undefined) seekAll(start);
      return;
    }
    if (m.video.paused) for (const p of players) p.play();
    else for (const p of players) p.pause();
  }

  function setRate(r) {
    rate = Math.max(1, Math.min(16, r));
    speedSel.value = String(SPEEDS.reduce((a, b) => (Math.abs(b - rate) < Math.abs(a - rate)
      ? b : a)));
    for (const p of players) p.video.playbackRate = rate;
  }

  function step(seconds) {
    const t = master()?.wall();
    if (t !== null && t !== undefined) seekAll(t + seconds, { play: !master().video.paused });
  }

  function allEvents() {
    return [...timelines.values()].flatMap((tl) => tl.events)
      .sort((a, b) => a.start_time - b.start_time);
  }

  function jumpEvent(dir) {
    const t = master()?.wall() ?? (dir > 0 ? -Infinity : Infinity);
    const evs = allEvents();
    const ev = dir > 0 ? evs.find((e) => e.start_time - 2 > t + 1)
      : [...evs].reverse().find((e) => e.start_time - 2 < t - 3);
    if (ev) seekAll(ev.start_time - 2);
    else toast(dir > 0 ? "No later event this day" : "No earlier event this day", "ok");
  }

  // Keep the other cameras on the first one's clock.
  const syncTimer = setInterval(() => {
    const m = master();
    const t = m?.wall();
    if (t !== null && t !== undefined) {
      const tl = timelines.get(m.camera);
      if (tl && (t < W0 || t > W1) && t >= tl.start && t < tl.end && W1 - W0 < tl.end - tl.start) {
        focus = t + (W1 - W0) / 3; // playback left the visible window: page along
        renderRows();
      }
      drawCursor(t);
      clock.textContent = fmtClock ? fmtClock.format(new Date(t * 1000)) : "";
      clock.dataset.wall = String(t);
    }
    if (!m || t === null || t === undefined || m.loading) return;
    for (const p of players.slice(1)) {
      if (p.loading || p.live) continue;
      const w = p.wall();
      if (w === null || Math.abs(w - t) > 0.5) {
        if (p.want !== null && Math.abs(p.want - t) < 0.5 && w === null) continue;
        p.seek(t, { play: !m.video.paused });
      } else if (p.video.paused !== m.video.paused) {
        if (m.video.paused) p.pause();
        else p.play();
      }
    }
  }, 500);

  // ---------------------------------------------------------------- timeline

  function xToTime(track, clientX) {
    const r = track.getBoundingClientRect();
    const f = Math.min(1, Math.max(0, (clientX - r.left) / r.width));
    return W0 + f * (W1 - W0);
  }

  /** The visible part of the day: ``zoom`` seconds around ``focus``, inside the day. */
  function setWindow(tl) {
    const span = Math.min(zoom, tl.end - tl.start);
    const centre = focus ?? (tl.start + tl.end) / 2;
    W0 = Math.max(tl.start, Math.min(centre - span / 2, tl.end - span));
    W1 = W0 + span;
  }

  /** Position by CSSOM (the page's CSP refuses inline style attributes). */
  function at(node, left, w) {
    node.style.left = left;
    if (w !== undefined) node.style.width = w;
    return node;
  }

  const pct = (tl, t) => `${((t - W0) / (W1 - W0)) * 100}%`;
  const width = (tl, a, b) => `${((b - a) / (W1 - W0)) * 100}%`;

  function timelineRow(camera, tl) {
    const track = h("div", { class: "track", testid: "rec-track", "data-camera": camera,
      tabindex: "0", role: "slider", "aria-label": `${camera} timeline`,
      "data-start": String(tl.start), "data-end": String(tl.end) });
    const lane = h("div", { class: "lane" });
    const canvas = h("canvas", { class: "activity", height: 12, width: 1440 });
    lane.append(canvas);
    track.append(lane);
    const g = canvas.getContext("2d");
    const n = tl.activity.motion.length;
    const bucket = tl.activity.bucket;
    for (let i = 0; i < n; i += 1) {
      const m = tl.activity.motion[i];
      const o = tl.activity.objects[i];
      const t = tl.start + i * bucket;
      if (t + bucket < W0 || t > W1) continue;
      const x = ((t - W0) * 1440) / (W1 - W0);
      const w = Math.max(1, (bucket * 1440) / (W1 - W0));
      if (m) {
        g.fillStyle = `rgba(88,166,255,${0.25 + 0.75 * m})`;
        g.fillRect(x, 6, w, 6);
      }
      if (o) {
        g.fillStyle = `rgba(240,136,62,${0.3 + 0.7 * o})`;
        g.fillRect(x, 0, w, 6);
      }
    }
    const visible = (a, b) => b > W0 && a < W1;
    for (const s of tl.spans) {
      if (!visible(s.start, s.end)) continue;
      lane.append(at(h("div", { class: "span", testid: "rec-span" }), pct(tl, s.start),
        width(tl, s.start, s.end)));
    }
    for (const gap of tl.gaps) {
      if (!visible(gap.start, gap.end)) continue;
      lane.append(at(h("div", { class: `gap gap-${gap.reason}`, testid: "rec-gap",
        "data-reason": gap.reason, "data-start": String(gap.start), "data-end": String(gap.end),
        title: `${gap.detail} (${fmtClock.format(new Date(gap.start * 1000))} – `
          + `${fmtClock.format(new Date(gap.end * 1000))})` }),
      pct(tl, gap.start), width(tl, gap.start, gap.end)));
    }
    for (const ev of tl.events) {
      const level = ev.risk_level || "none";
      const end = ev.end_time ?? tl.now;
      if (!visible(ev.start_time, end)) continue;
      lane.append(at(h("button", { type: "button", class: `ev-mark level-${level}`,
        testid: "rec-event", "data-id": ev.id, "data-risk": level,
        title: `${fmtClock.format(new Date(ev.start_time * 1000))} ${(ev.labels || []).join(", ")}`
          + `${ev.summary ? ` – ${ev.summary}` : ""} (${level})`,
        onclick: (e) => {
          e.stopPropagation();
          seekAll(ev.start_time - 2);
        } }), pct(tl, ev.start_time), `max(4px, ${width(tl, ev.start_time, end)})`));
    }
    const sel = h("div", { class: "selection", hidden: true });
    const cursor = h("div", { class: "cursor", testid: "rec-cursor", hidden: true });
    const hover = h("div", { class: "hover", hidden: true });
    const tip = h("div", { class: "tip", hidden: true, testid: "rec-preview" },
      h("img", { alt: "", height: PREVIEW_HEIGHT }), h("span", {}));
    lane.append(sel, cursor, hover);
    track.append(tip);

    let previewTimer = null;
    let drag = null;

    function showHover(clientX) {
      const t = xToTime(track, clientX);
      hover.hidden = false;
      hover.style.left = pct(tl, t);
      tip.hidden = false;
      tip.style.left = `clamp(60px, ${pct(tl, t)}, calc(100% - 60px))`;
      tip.lastChild.textContent = fmtClock.format(new Date(t * 1000));
      const inside = tl.spans.some((s) => t >= s.start && t < s.end);
      const img = tip.firstChild;
      img.hidden = !inside;
      clearTimeout(previewTimer);
      if (inside) {
        previewTimer = setTimeout(() => {
          // Rounded so hovering back and forth reuses the engine's cached pictures.
          const q = Math.round(t / 2) * 2;
          img.src = `api/cameras/${enc(camera)}/preview.jpg?time=${q}&height=${PREVIEW_HEIGHT}`;
        }, 120);
      }
      return t;
    }

    track.addEventListener("pointermove", (e) => {
      const t = showHover(e.clientX);
      if (!drag) return;
      if (Math.abs(e.clientX - drag.x) > 4) drag.moved = true;
      if (drag.select) {
        selection = [Math.min(drag.t, t), Math.max(drag.t, t)];
        drawSelection();
      }
    });
    track.addEventListener("pointerleave", () => {
      hover.hidden = true;
      tip.hidden = true;
      clearTimeout(previewTimer);
    });
    track.addEventListener("pointerdown", (e) => {
      if (e.target.closest(".ev-mark")) return;
      track.setPointerCapture(e.pointerId);
      drag = { x: e.clientX, t: xToTime(track, e.clientX), moved: false,
        select: selecting || e.shiftKey };
    });
    track.addEventListener("pointerup", (e) => {
      if (!drag) return;
      const t = xToTime(track, e.clientX);
      const d = drag;
      drag = null;
      tip.hidden = e.pointerType !== "mouse";
      if (d.select && d.moved) {
        selection = [Math.min(d.t, t), Math.max(d.t, t)];
        drawSelection();
        return;
      }
      seekAll(t); // a click, or a scrub released here
    });
    track.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        const t = master()?.wall();
        if (t) seekAll(t);
      }
    });
    track.addEventListener("wheel", (e) => {
      e.preventDefault();
      focus = xToTime(track, e.clientX);
      setZoom(zoom * (e.deltaY > 0 ? 2 : 0.5));
    }, { passive: false });
    const ticks = h("div", { class: "ticks" });
    const most = Math.max(3, Math.floor((rows.clientWidth || 800) / 90)); // labels that fit
    const every = [60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600]
      .find((v) => (W1 - W0) / v <= most) || 21600;
    for (let t = Math.ceil(W0 / every) * every; t <= W1; t += every) {
      ticks.append(at(h("span", {}, fmtHour.format(new Date(t * 1000))), pct(tl, t)));
    }
    const meta = h("span", { class: "muted small" },
      `${camera} · ${fmtSpan(tl.recorded_seconds)} recorded · ${tl.events.length} events`
      + ` · ${tl.gaps.length} gaps`);
    return { node: h("div", { class: "tl-row" }, meta, track, ticks), track, cursor, sel };
  }

  const rowParts = new Map();

  function drawCursor(t) {
    for (const [camera, part] of rowParts) {
      const tl = timelines.get(camera);
      const inside = t >= W0 && t <= W1;
      part.cursor.hidden = !inside;
      if (inside) part.cursor.style.left = pct(tl, t);
    }
  }

  function drawSelection() {
    for (const [camera, part] of rowParts) {
      const tl = timelines.get(camera);
      part.sel.hidden = !selection;
      if (selection) {
        part.sel.style.left = pct(tl, selection[0]);
        part.sel.style.width = width(tl, selection[0], selection[1]);
      }
    }
    exportBtn.disabled = !selection || selection[1] - selection[0] < 1;
    if (selection) {
      const len = selection[1] - selection[0];
      exportNote.textContent = `${fmtClock.format(new Date(selection[0] * 1000))} – `
        + `${fmtClock.format(new Date(selection[1] * 1000))} (${Math.round(len)} s`
        + `${len > MAX_EXPORT ? ", too long: at most 1 h" : ""})`;
      exportBtn.disabled ||= len > MAX_EXPORT;
    }
  }

  async function loadDay() {
    rows.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    const results = await Promise.all(cameras.map((c) => api(
      `api/cameras/${enc(c)}/timeline${day ? `?date=${day}` : ""}`).catch((err) => err)));
    if (!alive) return;
    timelines.clear();
    errors = [];
    results.forEach((tl, i) => {
      if (tl instanceof Error) {
        errors.push(`${cameras[i]}: ${tl.message}`);
        return;
      }
      if (!day) day = tl.date;
      tz = tl.tz || undefined;
      fmtClock = new Intl.DateTimeFormat([], { timeZone: tz, hour: "2-digit", minute: "2-digit",
        second: "2-digit" });
      fmtHour = new Intl.DateTimeFormat([], { timeZone: tz, hour: "2-digit", minute: "2-digit" });
      timelines.set(cameras[i], tl);
    });
    if (focus !== null) {
      const tl = timelines.values().next().value;
      if (tl && (focus < tl.start || focus > tl.end)) focus = null;
    }
    renderRows();
    dateInput.value = day || "";
    const first = timelines.get(cameras[0]);
    note.textContent = first ? `Times in ${tz || "this browser's time zone"}. Click or drag on`
      + " the timeline to play; Shift+drag selects a span to export. Keys: space, ←/→, J/K/L, N/P."
      : "";
    rows.dataset.loaded = String(Date.now());
    drawSelection();
    const t = master()?.wall();
    if (t) drawCursor(t);
  }

  let errors = [];

  function renderRows() {
    rows.replaceChildren(...errors.map((e) => h("p", { class: "error" }, e)));
    rowParts.clear();
    for (const [camera, tl] of timelines) {
      setWindow(tl);
      const part = timelineRow(camera, tl);
      rowParts.set(camera, part);
      rows.append(part.node);
    }
    rows.dataset.window = `${W0},${W1}`;
    drawSelection();
    const t = master()?.wall();
    if (t) drawCursor(t);
  }

  function setZoom(seconds) {
    zoom = Math.max(60, Math.min(86400, seconds));
    zoomSel.value = String([86400, 21600, 3600, 900, 300, 60].reduce((a, b) => (
      Math.abs(Math.log(b / zoom)) < Math.abs(Math.log(a / zoom)) ? b : a)));
    if (focus === null) {
      // Around what plays, else the newest footage of the day.
      const tl = timelines.values().next().value;
      focus = master()?.wall() ?? (tl?.newest && tl.newest <= tl.end ? tl.newest : null);
    }
    renderRows();
  }

  function setCameras(list) {
    cameras = list.slice(0, MAX_CAMERAS);
    const keep = master()?.wall();
    for (const p of players.splice(0)) p.destroy();
    grid.replaceChildren();
    grid.className = `players n${cameras.length > 1 ? 4 : 1}`;
    for (const c of cameras) {
      const p = makePlayer(c);
      players.push(p);
      grid.append(p.node);
    }
    for (const box of camPicker.querySelectorAll("input")) {
      box.checked = cameras.includes(box.value);
      box.disabled = !box.checked && cameras.length >= MAX_CAMERAS;
    }
    loadDay().then(() => {
      if (keep) seekAll(keep);
    });
  }

  // ---------------------------------------------------------------- export

  async function doExport() {
    if (!selection) return;
    const [a, b] = selection;
    const camera = master()?.camera || cameras[0];
    exportBtn.disabled = true;
    progress.hidden = false;
    progress.removeAttribute("value"); // indeterminate while the engine assembles the clip
    exportNote.textContent = "Preparing the clip…";
    try {
      const resp = await fetch(`api/cameras/${enc(camera)}/clip.mp4?start=${a.toFixed(3)}`
        + `&end=${b.toFixed(3)}`, { credentials: "same-origin" });
      if (!resp.ok) {
        const body = await resp.json().catch(() => null);
        throw new Error(body?.error?.message || resp.statusText);
      }
      const total = Number(resp.headers.get("Content-Length")) || 0;
      const reader = resp.body.getReader();
      const chunks = [];
      let got = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        got += value.length;
        if (total) progress.value = got / total;
        exportNote.textContent = `Downloading… ${Math.round(got / 1024)} KB`;
      }
      progress.value = 1;
      const url = URL.createObjectURL(new Blob(chunks, { type: "video/mp4" }));
      const name = `${camera}-${new Date(a * 1000).toISOString().replace(/[:.]/g, "-")}.mp4`;
      const link = h("a", { href: url, download: name, testid: "rec-export-link" }, name);
      exportNote.replaceChildren("Ready: ", link, ` (${Math.round(got / 1024)} KB)`);
      exportNote.dataset.bytes = String(got);
      link.click();
      onLeave(() => URL.revokeObjectURL(url));
    } catch (err) {
      exportNote.textContent = `Export failed: ${err.message}`;
      progress.hidden = true;
    } finally {
      exportBtn.disabled = false;
    }
  }

  // ---------------------------------------------------------------- wiring

  camPicker.addEventListener("change", () => {
    const list = [...camPicker.querySelectorAll("input:checked")].map((i) => i.value);
    setCameras(list.length ? list : [cameras[0]]);
  });
  dateInput.addEventListener("change", () => {
    if (!dateInput.value) return;
    day = dateInput.value;
    loadDay();
  });
  prevDay.addEventListener("click", () => {
    day = shiftDay(day || dateInput.value, -1);
    loadDay();
  });
  nextDay.addEventListener("click", () => {
    day = shiftDay(day || dateInput.value, 1);
    loadDay();
  });
  playBtn.addEventListener("click", togglePlay);
  prevEv.addEventListener("click", () => jumpEvent(-1));
  nextEv.addEventListener("click", () => jumpEvent(1));
  speedSel.addEventListener("change", () => setRate(Number(speedSel.value)));
  zoomSel.addEventListener("change", () => {
    focus = master()?.wall() ?? focus;
    setZoom(Number(zoomSel.value));
  });
  liveBtn.addEventListener("click", () => {
    for (const p of players) p.goLive();
  });
  selectBtn.addEventListener("click", () => {
    selecting = !selecting;
    selectBtn.setAttribute("aria-pressed", String(selecting));
    if (!selecting && !selection) drawSelection();
  });
  exportBtn.addEventListener("click", doExport);

  function onKey(e) {
    const el = e.target instanceof Element ? e.target : null;
    if (el?.closest("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    if (key === " " || key === "k") {
      e.preventDefault();
      if (key === "k") for (const p of players) p.pause();
      else togglePlay();
    } else if (key === "ArrowLeft" || key === "ArrowRight") {
      e.preventDefault();
      step((key === "ArrowLeft" ? -1 : 1) * (e.shiftKey ? 30 : STEP));
    } else if (key === "l") {
      const m = master();
      if (m && m.video.paused) togglePlay();
      else setRate(rate * 2);
    } else if (key === "j") {
      if (rate > 1) setRate(rate / 2);
      else step(-10);
    } else if (key === "n") jumpEvent(1);
    else if (key === "p") jumpEvent(-1);
  }
  document.addEventListener("keydown", onKey);

  onLeave(() => {
    alive = false;
    clearInterval(syncTimer);
    document.removeEventListener("keydown", onKey);
    for (const p of players.splice(0)) p.destroy();
  });

  if (!allCameras.length) {
    view.replaceChildren(h("p", { class: "muted" }, "No cameras."));
    return;
  }
  // Fetch the player now, so the first click does not wait for it.
  if (window.MediaSource) loadHls().catch(() => null);
  setCameras(cameras);
}
