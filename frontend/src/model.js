// Pure state of the card: what the integration's `vigil/subscribe` stream says, folded
// into one object. No DOM here, so it is tested on its own.

export const LEVELS = ["low", "medium", "high", "critical"];
export const MODES = ["disarmed", "home", "away", "night", "vacation"];
export const DEFAULTS = { min_level: "low", events: 10 };

/** Validate a card config; throws an Error naming the bad field. */
export function normalizeConfig(config) {
  if (!config || typeof config !== "object") throw new Error("vigil-card: the config must be a mapping");
  const out = { ...DEFAULTS, ...config };
  if (!LEVELS.includes(out.min_level)) {
    throw new Error(`vigil-card: min_level must be one of ${LEVELS.join(", ")} (got ${out.min_level})`);
  }
  const events = Number(out.events);
  if (!Number.isInteger(events) || events < 1 || events > 100) {
    throw new Error(`vigil-card: events must be a whole number from 1 to 100 (got ${out.events})`);
  }
  out.events = events;
  if (out.cameras !== undefined && !Array.isArray(out.cameras)) {
    throw new Error("vigil-card: cameras must be a list of camera names");
  }
  if (out.entry_id !== undefined && typeof out.entry_id !== "string") {
    throw new Error("vigil-card: entry_id must be a config entry ID");
  }
  return out;
}

export function emptyState() {
  return { ready: false, mode: null, available: false, cameras: [], events: [], silenced: {}, title: "", entry_id: null };
}

function byNewest(a, b) {
  return b.start_time - a.start_time;
}

/** Fold one subscription message into the state (returns a new object). */
export function reduce(state, message, keep = 100) {
  switch (message.type) {
    case "snapshot":
      return {
        ready: true,
        title: message.title,
        entry_id: message.entry_id,
        mode: message.mode,
        available: message.available,
        cameras: message.cameras,
        silenced: message.silenced || {},
        events: [...message.events].sort(byNewest).slice(0, keep),
      };
    case "state":
      return { ...state, mode: message.mode, available: message.available, cameras: message.cameras, silenced: message.silenced || {} };
    case "event": {
      const event = message.event;
      const others = state.events.filter((e) => e.id !== event.id);
      return { ...state, events: [event, ...others].sort(byNewest).slice(0, keep) };
    }
    default:
      return state;
  }
}

export function levelOf(event) {
  return (event.risk && event.risk.risk_level) || null;
}

export function atLeast(level, minimum) {
  return LEVELS.indexOf(level ?? "low") >= LEVELS.indexOf(minimum);
}

/** The events the card lists: wanted cameras, at least the minimum level, newest first. */
export function visibleEvents(state, config) {
  return state.events
    .filter((e) => !config.cameras || config.cameras.length === 0 || config.cameras.includes(e.camera))
    .filter((e) => atLeast(levelOf(e), config.min_level))
    .slice(0, config.events);
}

export function visibleCameras(state, config) {
  return state.cameras.filter((c) => !config.cameras || config.cameras.length === 0 || config.cameras.includes(c.name));
}

export function latestEvent(state, camera) {
  return state.events.find((e) => e.camera === camera) || null;
}

export function humanize(text) {
  if (!text) return "";
  const words = String(text).replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Local time of an epoch in HA's configured zone (or the browser's, as the user chose). */
export function formatTime(epoch, hass, now = Date.now()) {
  const locale = hass?.locale?.language || hass?.language || undefined;
  const useServer = hass?.locale?.time_zone !== "local" && hass?.config?.time_zone;
  const timeZone = useServer ? hass.config.time_zone : undefined;
  const date = new Date(epoch * 1000);
  const sameDay = Math.abs(now - date.getTime()) < 20 * 3600 * 1000;
  const options = sameDay
    ? { hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone }
    : { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZone };
  return new Intl.DateTimeFormat(locale, options).format(date);
}
