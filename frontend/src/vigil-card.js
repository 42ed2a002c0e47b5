// custom:vigil-card: arm mode, cameras and a live event timeline of one Vigil engine.
// Data comes pushed over HA's WebSocket (`vigil/subscribe`); actions go through the
// integration's services. Media links are HA-signed, so no token is handled here.

import { LitElement, html, css, nothing } from "lit";
import {
  MODES, LEVELS, emptyState, normalizeConfig, reduce, visibleEvents, visibleCameras,
  latestEvent, levelOf, humanize, formatTime,
} from "./model.js";
import "./vigil-card-editor.js";

const IMAGE_REFRESH_MS = 10000; // like HA's own picture cards

export class VigilCard extends LitElement {
  static properties = {
    hass: { attribute: false },
    _config: { state: true },
    _state: { state: true },
    _error: { state: true },
    _selected: { state: true },
    _busy: { state: true },
    _tick: { state: true },
  };

  constructor() {
    super();
    this._state = emptyState();
    this._error = null;
    this._selected = null;
    this._busy = false;
    this._tick = 0;
    this._unsub = null;
    this._subscribedFor = null;
  }

  static getConfigElement() {
    return document.createElement("vigil-card-editor");
  }

  static getStubConfig() {
    return { min_level: "low", events: 10 };
  }

  setConfig(config) {
    this._config = normalizeConfig(config);
    if (this._subscribedFor !== null) {
      this._unsubscribe();
      this._subscribe();
    }
  }

  getCardSize() {
    return 3 + Math.ceil((this._config?.events ?? 10) / 2);
  }

  getGridOptions() {
    return { columns: 12, min_columns: 6, rows: "auto" };
  }

  connectedCallback() {
    super.connectedCallback();
    this._timer = setInterval(() => { this._tick += 1; }, IMAGE_REFRESH_MS);
    if (this.hass && this._config) this._subscribe();
  }

  disconnectedCallback() {
    super.disconnectedCallback();
    clearInterval(this._timer);
    this._unsubscribe();
  }

  updated(changed) {
    if (changed.has("hass") && this.hass && this._config && this._subscribedFor === null && this.isConnected) {
      this._subscribe();
    }
    if (changed.has("_selected") && this._selected) {
      this.renderRoot.querySelector(".dialog .close")?.focus();
    }
  }

  async _subscribe() {
    const entry = this._config.entry_id ?? "";
    this._subscribedFor = entry;
    const msg = { type: "vigil/subscribe", limit: 100 };
    if (this._config.entry_id) msg.entry_id = this._config.entry_id;
    try {
      const unsub = await this.hass.connection.subscribeMessage((m) => this._onMessage(m), msg);
      if (this._subscribedFor !== entry) {
        unsub();
        return;
      }
      this._unsub = unsub;
      this._error = null;
    } catch (err) {
      this._error = err?.message || String(err);
      this._subscribedFor = null;
    }
  }

  _unsubscribe() {
    this._subscribedFor = null;
    if (this._unsub) {
      const unsub = this._unsub;
      this._unsub = null;
      Promise.resolve(unsub()).catch(() => {});
    }
  }

  _onMessage(message) {
    this._state = reduce(this._state, message);
    if (this._selected) {
      this._selected = this._state.events.find((e) => e.id === this._selected.id) || this._selected;
    }
  }

  async _call(service, data) {
    this._busy = true;
    try {
      const target = this._state.entry_id ? { config_entry_id: this._state.entry_id } : {};
      await this.hass.callService("vigil", service, { ...target, ...data });
      this._error = null;
    } catch (err) {
      this._error = err?.message || String(err);
    } finally {
      this._busy = false;
    }
  }

  _open(event) {
    this._opener = this.renderRoot.activeElement || null;
    this._selected = event;
  }

  _close() {
    this._selected = null;
    this._opener?.focus?.();
  }

  _onDialogKey(ev) {
    if (ev.key === "Escape") {
      ev.stopPropagation();
      this._close();
    }
  }

  render() {
    if (!this._config) return nothing;
    const state = this._state;
    const title = this._config.title ?? "Vigil";
    return html`
      <ha-card>
        <div class="wrap">
          <header>
            <h2 class="title">${title}</h2>
            ${state.ready && !state.available ? html`<span class="chip bad" role="status">Engine offline</span>` : nothing}
          </header>
          ${this._error ? html`<div class="error" role="alert">${this._error}</div>` : nothing}
          ${state.ready ? this._renderBody(state) : html`<div class="loading" role="status">Connecting to Vigil…</div>`}
        </div>
        ${this._selected ? this._renderDialog(this._selected) : nothing}
      </ha-card>
    `;
  }

  _renderBody(state) {
    const events = visibleEvents(state, this._config);
    return html`
      <div class="modes" role="group" aria-label="Arm mode">
        ${MODES.map((mode) => html`
          <button class="mode ${state.mode === mode ? "active" : ""}" aria-pressed=${state.mode === mode ? "true" : "false"}
            ?disabled=${this._busy} @click=${() => this._call("set_mode", { mode })}>${humanize(mode)}</button>`)}
      </div>
      <section class="cameras" aria-label="Cameras">
        ${visibleCameras(state, this._config).map((cam) => this._renderCamera(cam, state))}
      </section>
      <section aria-label="Recent events">
        <h3>Recent events</h3>
        ${events.length === 0 ? html`<p class="empty">No events yet.</p>` : html`
          <ul class="timeline">
            ${events.map((ev) => html`<li>${this._renderRow(ev)}</li>`)}
          </ul>`}
      </section>
    `;
  }

  _cameraImage(cam) {
    const entity = cam.entity_id && this.hass?.states?.[cam.entity_id];
    const picture = entity?.attributes?.entity_picture;
    if (!picture) return null;
    return `${picture}${picture.includes("?") ? "&" : "?"}t=${this._tick}`;
  }

  _renderCamera(cam, state) {
    const last = latestEvent(state, cam.name);
    const image = this._cameraImage(cam);
    const silenced = state.silenced?.[cam.name];
    const name = humanize(cam.name);
    return html`
      <article class="camera" aria-label=${`Camera ${name}`}>
        ${image ? html`<img class="live" src=${image} alt=${`Live image of ${name}`} loading="lazy" />` : html`<div class="live none">No image</div>`}
        <div class="cam-info">
          <strong>${name}</strong>
          <span class="chip ${cam.online ? "good" : "bad"}">${cam.online ? "Online" : "Offline"}</span>
          ${cam.motion ? html`<span class="chip warn">Motion</span>` : nothing}
          ${silenced ? html`<span class="chip">Silenced</span>` : nothing}
          <div class="objects">${cam.objects.length ? cam.objects.map((o) => `${o.count} ${o.label}`).join(", ") : "No objects"}</div>
          ${last ? html`<button class="last" @click=${() => this._open(last)} aria-label=${`Latest event on ${name}: ${this._rowLabel(last)}`}>
            ${this._badge(last)} <span>${this._summary(last)}</span></button>` : html`<div class="last none">No events</div>`}
        </div>
      </article>
    `;
  }

  _summary(ev) {
    return ev.risk?.summary || (ev.labels?.length ? humanize(ev.labels.join(", ")) : "Event");
  }

  _source(risk) {
    const by = risk.provider === "rules" ? "Rules" : "AI";
    return risk.status === "pending" ? `${by} · AI assessment pending` : risk.status === "fallback" ? `${by} (AI unavailable)` : by;
  }

  _rowLabel(ev) {
    const level = levelOf(ev);
    return `${level ? `${humanize(level)} risk` : "Not assessed"}, ${humanize(ev.camera)}, ${formatTime(ev.start_time, this.hass)}`;
  }

  _badge(ev) {
    const level = levelOf(ev);
    return html`<span class="badge ${level ?? "none"}">${level ? humanize(level) : "Pending"}</span>`;
  }

  _renderRow(ev) {
    return html`
      <button class="event" data-event-id=${ev.id} @click=${() => this._open(ev)} aria-label=${`Open event: ${this._rowLabel(ev)}`}>
        ${ev.snapshot_url ? html`<img class="thumb" src=${ev.snapshot_url} alt="" loading="lazy" />` : html`<div class="thumb none"></div>`}
        <div class="meta">
          <div class="line1">
            ${this._badge(ev)}
            <span class="activity">${humanize(ev.risk?.activity_type) || humanize(ev.labels?.join(", "))}</span>
            ${ev.end_time == null ? html`<span class="chip warn">Ongoing</span>` : nothing}
            ${ev.acknowledged ? html`<span class="chip good">Acknowledged</span>` : nothing}
          </div>
          <div class="summary">${this._summary(ev)}</div>
          <div class="when">${humanize(ev.camera)} · <time>${formatTime(ev.start_time, this.hass)}</time></div>
        </div>
      </button>
    `;
  }

  _renderDialog(ev) {
    return html`
      <div class="backdrop" @click=${() => this._close()}></div>
      <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="vigil-dialog-title" @keydown=${this._onDialogKey}>
        <div class="dialog-head">
          <h3 id="vigil-dialog-title">${humanize(ev.camera)} · ${formatTime(ev.start_time, this.hass)}</h3>
          <button class="close" aria-label="Close" @click=${() => this._close()}>✕</button>
        </div>
        ${ev.clip_url ? html`<video controls playsinline preload="metadata" src=${ev.clip_url} poster=${ev.snapshot_url ?? ""} aria-label="Event clip"></video>`
          : ev.snapshot_url ? html`<img class="still" src=${ev.snapshot_url} alt="Event snapshot" />`
          : html`<p class="empty">No clip yet${ev.end_time == null ? ": the event is still going on" : ""}.</p>`}
        <div class="line1">${this._badge(ev)}
          ${ev.risk?.risk_score != null ? html`<span>Score ${ev.risk.risk_score}</span>` : nothing}
          <span class="activity">${humanize(ev.risk?.activity_type)}</span>
          ${ev.end_time == null ? html`<span class="chip warn">Ongoing</span>` : nothing}
          ${ev.risk ? html`<span class="chip source">${this._source(ev.risk)}</span>` : nothing}
        </div>
        <p class="summary">${this._summary(ev)}</p>
        ${ev.risk?.reasoning ? html`<p class="reasoning">${ev.risk.reasoning}</p>` : nothing}
        <div class="actions">
          <button class="ack" ?disabled=${this._busy || ev.acknowledged}
            @click=${() => this._call("acknowledge_event", { event_id: ev.id })}>${ev.acknowledged ? "Acknowledged" : "Acknowledge"}</button>
          <button class="protect" ?disabled=${this._busy} aria-pressed=${ev.protected ? "true" : "false"}
            @click=${() => this._call("protect_event", { event_id: ev.id, protected: !ev.protected })}>${ev.protected ? "Unprotect" : "Protect"}</button>
        </div>
      </div>
    `;
  }

  static styles = css`
    :host { display: block; container: vigil / inline-size; }
    ha-card { display: block; overflow: hidden; background: var(--ha-card-background, var(--card-background-color, #fff)); color: var(--primary-text-color, #212121); border-radius: var(--ha-card-border-radius, 12px); }
    .wrap { padding: 16px; }
    header { display: flex; align-items: center; gap: 8px; }
    .title { margin: 0; font-size: 1.3em; font-weight: 500; flex: 1; }
    h3 { margin: 16px 0 8px; font-size: 1.05em; font-weight: 500; }
    button { font: inherit; color: inherit; cursor: pointer; }
    button:focus-visible { outline: 2px solid var(--primary-color, #03a9f4); outline-offset: 2px; }
    .modes { display: flex; flex-wrap: wrap; gap: 6px; margin: 12px 0; }
    .mode { border: 1px solid var(--divider-color, #ccc); background: transparent; border-radius: 18px; padding: 6px 14px; }
    .mode.active { background: var(--primary-color, #03a9f4); color: var(--text-primary-color, #fff); border-color: var(--primary-color, #03a9f4); }
    .cameras { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 12px; }
    .camera { border: 1px solid var(--divider-color, #ddd); border-radius: 10px; overflow: hidden; }
    .live { display: block; width: 100%; aspect-ratio: 16 / 9; object-fit: cover; background: var(--secondary-background-color, #eee); }
    .live.none { display: flex; align-items: center; justify-content: center; color: var(--secondary-text-color, #666); }
    .cam-info { padding: 8px 10px; display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
    .objects { width: 100%; color: var(--secondary-text-color, #666); font-size: 0.9em; }
    .last { width: 100%; display: flex; gap: 8px; align-items: center; text-align: left; background: transparent; border: 0; padding: 4px 0; }
    .chip { font-size: 0.8em; padding: 2px 8px; border-radius: 10px; background: var(--secondary-background-color, #eee); }
    .chip.good { background: var(--success-color, #43a047); color: #fff; }
    .chip.bad { background: var(--error-color, #db4437); color: #fff; }
    .chip.warn { background: var(--warning-color, #ffa600); color: #000; }
    .badge { font-size: 0.8em; font-weight: 600; padding: 2px 8px; border-radius: 10px; color: #fff; white-space: nowrap; }
    .badge.low { background: var(--vigil-risk-low, var(--success-color, #2e7d32)); }
    .badge.medium { background: var(--vigil-risk-medium, var(--warning-color, #f9a825)); color: #000; }
    .badge.high { background: var(--vigil-risk-high, #ef6c00); }
    .badge.critical { background: var(--vigil-risk-critical, var(--error-color, #c62828)); }
    .badge.none { background: var(--disabled-text-color, #9e9e9e); }
    .timeline { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 6px; }
    .event { width: 100%; display: flex; gap: 10px; text-align: left; background: transparent; border: 1px solid var(--divider-color, #ddd); border-radius: 10px; padding: 6px; }
    .event:hover { background: var(--secondary-background-color, #f5f5f5); }
    .thumb { width: 96px; height: 64px; object-fit: cover; border-radius: 6px; flex: none; background: var(--secondary-background-color, #eee); }
    .meta { min-width: 0; display: flex; flex-direction: column; gap: 3px; }
    .line1 { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
    .activity { font-weight: 500; }
    .summary { color: var(--primary-text-color, #212121); }
    .when, .empty, .loading { color: var(--secondary-text-color, #666); font-size: 0.9em; }
    .error { color: var(--error-color, #db4437); margin: 8px 0; }
    .backdrop { position: fixed; inset: 0; background: rgba(0, 0, 0, 0.5); z-index: 10; }
    .dialog { position: fixed; z-index: 11; top: 50%; left: 50%; transform: translate(-50%, -50%); width: min(720px, 94vw); max-height: 92vh; overflow: auto; background: var(--ha-card-background, var(--card-background-color, #fff)); color: var(--primary-text-color, #212121); border-radius: 12px; padding: 16px; box-sizing: border-box; }
    .dialog-head { display: flex; align-items: center; }
    .dialog-head h3 { flex: 1; margin: 0 0 8px; }
    .close { background: transparent; border: 0; font-size: 1.2em; padding: 4px 8px; }
    video, .still { width: 100%; border-radius: 8px; background: #000; }
    .reasoning { color: var(--secondary-text-color, #666); white-space: pre-wrap; }
    .actions { display: flex; gap: 8px; justify-content: flex-end; }
    .actions button { border: 0; border-radius: 8px; padding: 8px 16px; background: var(--primary-color, #03a9f4); color: var(--text-primary-color, #fff); }
    .actions button[disabled] { opacity: 0.5; cursor: default; }
    @container vigil (max-width: 600px) {
      .cameras { grid-template-columns: 1fr; }
    }
    @media (max-width: 600px) {
      .cameras { grid-template-columns: 1fr; }
      .dialog { width: 100vw; max-height: 100vh; border-radius: 0; }
    }
  `;
}

if (!customElements.get("vigil-card")) customElements.define("vigil-card", VigilCard);

window.customCards = window.customCards || [];
if (!window.customCards.some((c) => c.type === "vigil-card")) {
  window.customCards.push({
    type: "vigil-card",
    name: "Vigil",
    description: "Arm mode, cameras and a live timeline of security events from a Vigil engine.",
    preview: false,
    documentationURL: "https://github.com/vigil-security/vigil",
  });
}

export { LEVELS };
