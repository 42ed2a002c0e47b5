// Visual editor of the Vigil card: engine, cameras, minimum level, number of events.
// Built on HA's own <ha-form>, so it looks and behaves like the built-in editors.

import { LitElement, html, nothing } from "lit";
import { LEVELS, normalizeConfig, humanize } from "./model.js";

export function editorSchema(cameraNames) {
  return [
    { name: "title", selector: { text: {} } },
    { name: "entry_id", selector: { config_entry: { integration: "vigil" } } },
    {
      name: "cameras",
      selector: { select: { multiple: true, custom_value: true, options: cameraNames.map((c) => ({ value: c, label: humanize(c) })) } },
    },
    {
      name: "min_level",
      selector: { select: { mode: "dropdown", options: LEVELS.map((l) => ({ value: l, label: humanize(l) })) } },
    },
    { name: "events", selector: { number: { min: 1, max: 100, mode: "box" } } },
  ];
}

// HA defines <ha-form> lazily; a built-in card's editor pulls it in when it is not yet there.
export async function loadHaForm() {
  if (customElements.get("ha-form") || !window.loadCardHelpers) return;
  const helpers = await window.loadCardHelpers();
  const card = await helpers.createCardElement({ type: "entities", entities: [] });
  await card?.constructor?.getConfigElement?.();
}

const LABELS = {
  title: "Title",
  entry_id: "Engine",
  cameras: "Cameras (none chosen: all)",
  min_level: "Minimum risk level",
  events: "Events shown",
};

export class VigilCardEditor extends LitElement {
  static properties = {
    hass: { attribute: false },
    _config: { state: true },
    _cameras: { state: true },
  };

  constructor() {
    super();
    this._cameras = [];
    this._loadedFor = undefined;
  }

  setConfig(config) {
    this._config = config;
  }

  connectedCallback() {
    super.connectedCallback();
    loadHaForm();
  }

  updated() {
    const entry = this._config?.entry_id ?? "";
    if (this.hass?.connection && this._loadedFor !== entry) {
      this._loadedFor = entry;
      this._loadCameras(entry);
    }
  }

  async _loadCameras(entry) {
    // One snapshot of the subscription tells which cameras the engine has.
    const msg = { type: "vigil/subscribe", limit: 1 };
    if (entry) msg.entry_id = entry;
    let unsub = null;
    try {
      unsub = await this.hass.connection.subscribeMessage((m) => {
        if (m.type === "snapshot") this._cameras = m.cameras.map((c) => c.name);
      }, msg);
    } catch {
      this._cameras = [];
    } finally {
      if (unsub) unsub();
    }
  }

  _changed(ev) {
    ev.stopPropagation();
    const config = { ...ev.detail.value };
    for (const key of Object.keys(config)) {
      if (config[key] === "" || config[key] === undefined || (Array.isArray(config[key]) && config[key].length === 0)) delete config[key];
    }
    let valid = config;
    try {
      normalizeConfig(config);
    } catch {
      valid = this._config; // ha-form shows the field; keep the last good config
    }
    this._config = config;
    this.dispatchEvent(new CustomEvent("config-changed", { detail: { config: valid }, bubbles: true, composed: true }));
  }

  render() {
    if (!this._config) return nothing;
    return html`<ha-form
      .hass=${this.hass}
      .data=${this._config}
      .schema=${editorSchema(this._cameras)}
      .computeLabel=${(s) => LABELS[s.name] ?? s.name}
      @value-changed=${this._changed}
    ></ha-form>`;
  }
}

if (!customElements.get("vigil-card-editor")) customElements.define("vigil-card-editor", VigilCardEditor);
