import { describe, it, expect, beforeEach, afterEach, vi } from "vitest";
import "../src/vigil-card.js";
import { normalizeConfig, reduce, emptyState, visibleEvents, formatTime } from "../src/model.js";
import { editorSchema } from "../src/vigil-card-editor.js";

// A stand-in for the `hass` object HA's frontend hands to cards: it records service
// calls and lets the test push `vigil/subscribe` messages like the integration does.
function fakeHass() {
  const hass = {
    calls: [],
    subscriptions: [],
    states: { "camera.plaza": { attributes: { entity_picture: "/api/camera_proxy/camera.plaza?token=abc" } } },
    locale: { language: "en-GB", time_zone: "server" },
    config: { time_zone: "UTC" },
    callService: async (domain, service, data) => { hass.calls.push({ domain, service, data }); },
    connection: {
      subscribeMessage: async (callback, msg) => {
        const sub = { callback, msg, active: true };
        hass.subscriptions.push(sub);
        return () => { sub.active = false; };
      },
    },
    push(message) {
      for (const s of hass.subscriptions) if (s.active) s.callback(message);
    },
  };
  return hass;
}

const T0 = Date.UTC(2026, 10, 29, 21, 30, 5) / 1000;

function event(id, level, extra = {}) {
  return {
    id, camera: "plaza", start_time: T0 + Number(id.slice(-1)), end_time: T0 + 20, labels: ["person"], zones: ["lawn"],
    alert: level === "high" || level === "critical", acknowledged: false, protected: false, has_snapshot: true, has_clip: true,
    escalation: null,
    risk: level ? { risk_level: level, risk_score: 50, activity_type: "passerby", summary: `A ${level} passer-by`, reasoning: "Walked along the path.", provider: "rules", status: "final" } : null,
    snapshot_url: `/api/vigil/e1/snapshot/${id}.jpg?authSig=x`, clip_url: `/api/vigil/e1/clip/${id}.mp4?authSig=x`, ...extra,
  };
}

function snapshot(events, extra = {}) {
  return {
    type: "snapshot", entry_id: "e1", title: "Vigil", mode: "home", available: true, silenced: {},
    cameras: [{ name: "plaza", entity_id: "camera.plaza", online: true, status: "online", motion: true, objects: [{ label: "person", count: 2 }], last_event_id: null }],
    events, ...extra,
  };
}

async function mount(config = { type: "custom:vigil-card" }) {
  const hass = fakeHass();
  const card = document.createElement("vigil-card");
  card.setConfig(config);
  card.hass = hass;
  document.body.appendChild(card);
  await card.updateComplete;
  await Promise.resolve();
  return { card, hass };
}

async function settle(card) {
  await card.updateComplete;
  await new Promise((r) => setTimeout(r, 0));
  await card.updateComplete;
}

const $ = (card, css) => card.shadowRoot.querySelector(css);
const $$ = (card, css) => [...card.shadowRoot.querySelectorAll(css)];

describe("vigil-card", () => {
  // The card shows the time alone for the last 20 hours and the day before it: the
  // events below happened a minute ago, whatever day the tests run (with the real clock
  // this test began to fail 20 hours after T0).
  beforeEach(() => { vi.useFakeTimers({ toFake: ["Date"] }); vi.setSystemTime((T0 + 60) * 1000); });
  afterEach(() => { document.body.innerHTML = ""; vi.useRealTimers(); });

  it("subscribes over HA's websocket (no polling) and lists events with risk, time and summary", async () => {
    const { card, hass } = await mount();
    expect(hass.subscriptions).toHaveLength(1);
    expect(hass.subscriptions[0].msg).toEqual({ type: "vigil/subscribe", limit: 100 });
    expect($(card, ".loading").textContent).toContain("Connecting");
    hass.push(snapshot([event("ev-1", "low"), event("ev-2", "critical", { end_time: null })]));
    await settle(card);
    const rows = $$(card, "button.event");
    expect(rows.map((r) => r.dataset.eventId)).toEqual(["ev-2", "ev-1"]); // newest first
    expect(rows[0].querySelector(".badge").textContent).toBe("Critical");
    expect(rows[0].querySelector(".badge").classList.contains("critical")).toBe(true);
    expect(rows[0].textContent).toContain("Ongoing");
    expect(rows[1].textContent).not.toContain("Ongoing");
    expect(rows[0].querySelector(".summary").textContent).toBe("A critical passer-by");
    expect(rows[0].querySelector(".activity").textContent).toBe("Passerby");
    expect(rows[0].querySelector("time").textContent).toBe("21:30:07"); // HA's zone, not the browser's
    expect(rows[0].querySelector("img.thumb").getAttribute("src")).toBe("/api/vigil/e1/snapshot/ev-2.jpg?authSig=x");
    expect(rows[0].getAttribute("aria-label")).toMatch(/^Open event: Critical risk, Plaza/);
  });

  it("shows each camera's live image, state and latest event", async () => {
    const { card, hass } = await mount();
    hass.push(snapshot([event("ev-1", "medium")]));
    await settle(card);
    const cam = $(card, "article.camera");
    expect(cam.getAttribute("aria-label")).toBe("Camera Plaza");
    expect(cam.querySelector("img.live").getAttribute("src")).toMatch(/^\/api\/camera_proxy\/camera\.plaza\?token=abc&t=\d+$/);
    expect(cam.textContent).toContain("Online");
    expect(cam.textContent).toContain("Motion");
    expect(cam.querySelector(".objects").textContent).toBe("2 person");
    expect(cam.querySelector(".last .badge").textContent).toBe("Medium");
    hass.push({ type: "state", mode: "home", available: true, silenced: { plaza: 1e12 },
      cameras: [{ name: "plaza", entity_id: "camera.plaza", online: false, status: "offline", motion: false, objects: [] }] });
    await settle(card);
    expect($(card, "article.camera").textContent).toContain("Offline");
    expect($(card, "article.camera").textContent).toContain("Silenced");
    expect($(card, "article.camera .objects").textContent).toBe("No objects");
  });

  it("updates rows live: a new event appears, an assessment replaces the rules one in place", async () => {
    const { card, hass } = await mount();
    hass.push(snapshot([event("ev-1", "low")]));
    await settle(card);
    hass.push({ type: "event", action: "new", event: event("ev-3", "medium", { end_time: null }) });
    await settle(card);
    expect($$(card, "button.event")).toHaveLength(2);
    const assessed = event("ev-3", "high", { end_time: null });
    assessed.risk.summary = "Someone tries the door handle";
    hass.push({ type: "event", action: "assessed", event: assessed });
    await settle(card);
    const rows = $$(card, "button.event");
    expect(rows).toHaveLength(2);
    expect(rows[0].querySelector(".badge").textContent).toBe("High");
    expect(rows[0].querySelector(".summary").textContent).toBe("Someone tries the door handle");
  });

  it("changes the arm mode through vigil.set_mode and marks the active mode", async () => {
    const { card, hass } = await mount();
    hass.push(snapshot([]));
    await settle(card);
    const home = $$(card, "button.mode").find((b) => b.textContent === "Home");
    expect(home.getAttribute("aria-pressed")).toBe("true");
    $$(card, "button.mode").find((b) => b.textContent === "Away").click();
    await settle(card);
    expect(hass.calls).toEqual([{ domain: "vigil", service: "set_mode", data: { config_entry_id: "e1", mode: "away" } }]);
    expect($(card, "p.empty").textContent).toBe("No events yet.");
  });

  it("opens an event in a dialog with clip and reasoning; acknowledges and protects", async () => {
    const { card, hass } = await mount();
    hass.push(snapshot([event("ev-1", "high")]));
    await settle(card);
    $(card, "button.event").click();
    await settle(card);
    const dialog = $(card, "[role=dialog]");
    expect(dialog.getAttribute("aria-modal")).toBe("true");
    expect(dialog.querySelector("video").getAttribute("src")).toBe("/api/vigil/e1/clip/ev-1.mp4?authSig=x");
    expect(dialog.querySelector(".reasoning").textContent).toBe("Walked along the path.");
    expect(dialog.querySelector(".chip.source").textContent).toBe("Rules");
    expect(card.shadowRoot.activeElement).toBe(dialog.querySelector(".close")); // focus moves in
    dialog.querySelector("button.ack").click();
    await settle(card);
    dialog.querySelector("button.protect").click();
    await settle(card);
    expect(hass.calls).toEqual([
      { domain: "vigil", service: "acknowledge_event", data: { config_entry_id: "e1", event_id: "ev-1" } },
      { domain: "vigil", service: "protect_event", data: { config_entry_id: "e1", event_id: "ev-1", protected: true } },
    ]);
    hass.push({ type: "event", action: "update", event: event("ev-1", "high", { acknowledged: true }) });
    await settle(card);
    expect($(card, "[role=dialog] button.ack").disabled).toBe(true);
    expect($(card, "[role=dialog] button.ack").textContent).toBe("Acknowledged");
    $(card, "[role=dialog]").dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true, composed: true }));
    await settle(card);
    expect($(card, "[role=dialog]")).toBeNull();
  });

  it("filters by camera and minimum level and limits the count", async () => {
    const { card, hass } = await mount({ type: "custom:vigil-card", min_level: "high", events: 1, cameras: ["plaza"] });
    hass.push(snapshot([event("ev-1", "low"), event("ev-2", "high"), event("ev-3", "critical"), event("ev-4", "critical", { camera: "yard" })]));
    await settle(card);
    expect($$(card, "button.event").map((r) => r.dataset.eventId)).toEqual(["ev-3"]);
  });

  it("shows the integration's error when it cannot subscribe", async () => {
    const hass = fakeHass();
    hass.connection.subscribeMessage = async () => { throw new Error("several Vigil engines are set up: choose one"); };
    const card = document.createElement("vigil-card");
    card.setConfig({});
    card.hass = hass;
    document.body.appendChild(card);
    await settle(card);
    await settle(card);
    expect($(card, "[role=alert]").textContent).toContain("several Vigil engines");
  });

  it("unsubscribes when removed from the page", async () => {
    const { card, hass } = await mount();
    await settle(card);
    card.remove();
    expect(hass.subscriptions[0].active).toBe(false);
  });
});

describe("config and editor", () => {
  it("rejects bad config with a message naming the field", () => {
    expect(() => normalizeConfig({ min_level: "extreme" })).toThrow(/min_level/);
    expect(() => normalizeConfig({ events: 0 })).toThrow(/events/);
    expect(() => normalizeConfig({ cameras: "plaza" })).toThrow(/cameras/);
    expect(normalizeConfig({ type: "custom:vigil-card" })).toMatchObject({ min_level: "low", events: 10 });
  });

  it("offers a stub config, an editor and a card picker entry", async () => {
    const Card = customElements.get("vigil-card");
    expect(Card.getStubConfig()).toEqual({ min_level: "low", events: 10 });
    const editor = Card.getConfigElement();
    expect(editor.localName).toBe("vigil-card-editor");
    expect(window.customCards.find((c) => c.type === "vigil-card").name).toBe("Vigil");
    editor.setConfig({ type: "custom:vigil-card", min_level: "low" });
    document.body.appendChild(editor);
    await editor.updateComplete;
    const seen = [];
    editor.addEventListener("config-changed", (e) => seen.push(e.detail.config));
    const form = editor.shadowRoot.querySelector("ha-form");
    form.dispatchEvent(new CustomEvent("value-changed", { detail: { value: { type: "custom:vigil-card", min_level: "high", cameras: [], events: 5 } } }));
    expect(seen).toEqual([{ type: "custom:vigil-card", min_level: "high", events: 5 }]);
    expect(editorSchema(["plaza"]).find((f) => f.name === "cameras").selector.select.options).toEqual([{ value: "plaza", label: "Plaza" }]);
    editor.remove();
  });
});

describe("model", () => {
  let state;
  beforeEach(() => { state = reduce(emptyState(), snapshot([event("ev-1", null)])); });

  it("treats events without an assessment as pending and below every minimum but low", () => {
    expect(visibleEvents(state, { min_level: "low", events: 10 })).toHaveLength(1);
    expect(visibleEvents(state, { min_level: "medium", events: 10 })).toHaveLength(0);
  });

  it("formats dates of other days with the day", () => {
    expect(formatTime(T0, { locale: { language: "en-GB" }, config: { time_zone: "UTC" } }, (T0 + 3 * 86400) * 1000)).toBe("29 Nov, 21:30");
  });
});
