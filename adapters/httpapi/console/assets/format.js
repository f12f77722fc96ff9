// Pure helpers of the console: no DOM, no network, so they run under node --test too.

/** The statuses in which an operation runs. */
export const BUSY = new Set(['provisioning', 'stopping', 'starting', 'destroying']);

// The transition table of the design: which request each status accepts (a 202).
const ALLOWED = {
  no_server: ['launch'],
  provisioning: ['destroy'],
  running: ['stop', 'destroy'],
  stopping: ['destroy'],
  stopped: ['start', 'destroy'],
  starting: ['destroy'],
  destroying: [],
  error: ['launch', 'destroy'],
};

/** The actions that status allows, in the order the console shows them. */
export function allowedActions(status) {
  return ALLOWED[status] ?? [];
}

// Field keys of the envelope's errors, in words.
const FIELDS = {
  'body.cloud': 'Cloud',
  'body.region': 'Region',
  'body.instance_type': 'Instance type',
  'path.name': 'Name',
  body: 'Request body',
};

function sentence(text) {
  const s = String(text).trim();
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

/**
 * The messages of an envelope's errors map, in words: a field's messages are prefixed
 * with the field's label ("Cloud: ..."), a concern's (cluster, sky, auth, ...) stand alone.
 */
export function errorMessages(errors) {
  const out = [];
  if (!errors || typeof errors !== 'object') return out;
  for (const [key, messages] of Object.entries(errors)) {
    const label = FIELDS[key] ?? (/^(body|path|query|header)\./.test(key) ? key.replace(/^[a-z]+\./, '').replace(/_/g, ' ') : '');
    for (const m of [].concat(messages ?? [])) {
      out.push(label ? `${sentence(label)}: ${m}` : sentence(m));
    }
  }
  return out;
}

/** How long ago a unix time (seconds) was, shortly: "just now", "4 min", "2 h 5 min", "3 d". */
export function age(launchedAt, nowMs = Date.now()) {
  if (launchedAt == null) return '';
  const secs = Math.max(0, Math.floor(nowMs / 1000 - launchedAt));
  if (secs < 60) return 'just now';
  const mins = Math.floor(secs / 60);
  if (mins < 60) return `${mins} min`;
  const hours = Math.floor(mins / 60);
  if (hours < 24) return mins % 60 ? `${hours} h ${mins % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

/** The cluster name in a location hash "#/clusters/NAME", or null. */
export function nameFromHash(hash) {
  const m = /^#\/clusters\/([^/?#]+)\/?$/.exec(hash ?? '');
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return null;
  }
}

/** The hash that selects a cluster. */
export function hashFor(name) {
  return `#/clusters/${encodeURIComponent(name)}`;
}

/** The launch body of a form's fields: blank fields are left out (auto). */
export function launchBody({ cloud = '', region = '', instance_type = '' } = {}) {
  const body = {};
  if (cloud.trim()) body.cloud = cloud.trim().toLowerCase();
  if (region.trim()) body.region = region.trim();
  if (instance_type.trim()) body.instance_type = instance_type.trim();
  return body;
}

/** The clock time of an RFC 3339 timestamp, HH:MM:SS in local time. */
export function clockTime(timestamp) {
  const d = new Date(timestamp);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}
