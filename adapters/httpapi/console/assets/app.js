// The operator console: the fleet, one cluster's status, actions and live log, and the
// credential check. State comes from GET /clusters (every few seconds, and at once after
// each event that changes something) and from the event streams.

import { request, token, ApiError } from './api.js';
import { EventStream } from './stream.js';
import { allowedActions, age, nameFromHash, hashFor, launchBody, clockTime, BUSY } from './format.js';

const POLL_MS = 5000;
const MAX_LOG_LINES = 5000;

const $ = (id) => document.getElementById(id);

const state = {
  clusters: [], // the last GET /clusters
  loaded: false,
  selected: null, // the name of the cluster shown
  busy: false, // a request of the selected cluster is in flight
  confirming: false, // the destroy confirmation is shown
  needToken: false,
  streamState: 'connecting',
  reachable: true,
};

const logStream = new EventStream('', {
  onEvent: onClusterEvent,
  onState: (s) => {
    state.streamState = s;
    renderConnection();
  },
  onGiveUp: () => probeLogStream(),
});

const fleetStream = new EventStream('/events', {
  onEvent: onFleetEvent,
  onGiveUp: () => {},
});

// --- requests ---------------------------------------------------------------------------

function api(method, path, body) {
  return request(method, path, { body, onUnauthorized: askForToken });
}

let fleetTimer = null;
let fleetInFlight = null;

/** Fetches the fleet now; concurrent callers share one request. */
function refreshFleet() {
  if (state.needToken) return Promise.resolve();
  if (fleetInFlight) return fleetInFlight;
  fleetInFlight = api('GET', '/clusters')
    .then((list) => {
      state.clusters = Array.isArray(list) ? list : [];
      state.loaded = true;
      state.reachable = true;
      showAlert($('page-error'), []);
      if (state.selected == null) selectFromHash();
      render();
    })
    .catch((err) => {
      if (err instanceof ApiError && err.status === 0) {
        state.reachable = false;
        renderConnection();
      } else if (err instanceof ApiError && err.status !== 401) {
        showAlert($('page-error'), err.messages);
      }
    })
    .finally(() => {
      fleetInFlight = null;
    });
  return fleetInFlight;
}

/** Fetches the fleet soon, once for a burst of events. */
function refreshFleetSoon() {
  clearTimeout(fleetTimer);
  fleetTimer = setTimeout(refreshFleet, 150);
}

async function refreshCheck(refresh = false) {
  const btn = $('btn-check');
  btn.disabled = true;
  $('sky-version').textContent = 'Checking…';
  try {
    renderCheck(await api('GET', refresh ? '/cluster/check?refresh=true' : '/cluster/check'));
    showAlert($('check-error'), []);
  } catch (err) {
    $('sky-version').textContent = '';
    if (err instanceof ApiError && err.status !== 401) showAlert($('check-error'), err.messages);
  } finally {
    btn.disabled = false;
  }
}

// --- selection and streams --------------------------------------------------------------

function defaultName() {
  return state.clusters.find((c) => c.default)?.name ?? null;
}

function selectFromHash() {
  const name = nameFromHash(location.hash) ?? defaultName();
  if (name) select(name);
}

function select(name) {
  if (name === state.selected) return;
  state.selected = name;
  state.confirming = false;
  showAlert($('action-error'), []);
  $('action-note').textContent = '';
  $('log').replaceChildren();
  $('log-empty').hidden = false;
  logStream.path = `/clusters/${encodeURIComponent(name)}/events`;
  if (!state.needToken) logStream.open(0);
  render();
}

function selectedCluster() {
  const name = state.selected;
  if (name == null) return null;
  return (
    state.clusters.find((c) => c.name === name) ?? {
      name,
      default: false,
      status: 'no_server',
      cloud: null,
      region: null,
      ip: null,
      launched_at: null,
      error: null,
    }
  );
}

/**
 * The log's EventSource gave up: an answer that was not a stream. The cluster's status
 * route tells why in an envelope; a refusal that retrying cannot cure (a name skygate
 * does not take) ends the stream with an alert, a 401 asks for the token.
 */
async function probeLogStream() {
  const name = state.selected;
  try {
    await api('GET', `/clusters/${encodeURIComponent(name)}/status`);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 422) && name === state.selected) {
      logStream.close();
      state.streamState = 'closed';
      showAlert($('action-error'), err.messages);
      renderConnection();
    }
  }
}

function onClusterEvent(ev) {
  appendLog(ev);
  // The answer to the request ("Launching cluster a") is old news once its operation ends.
  if (ev.event === 'complete' || ev.event === 'error') $('action-note').textContent = '';
  if (ev.event === 'status' && ev.status) setStatus(ev.cluster ?? state.selected, ev.status);
  refreshFleetSoon();
}

function onFleetEvent(ev) {
  if (ev.event !== 'status' || !ev.cluster) return;
  setStatus(ev.cluster, ev.status);
  refreshFleetSoon();
}

/** Applies a status event before the next GET /clusters tells the rest. */
function setStatus(name, status) {
  const c = state.clusters.find((x) => x.name === name);
  if (c && status && c.status !== status) {
    c.status = status;
    render();
  }
}

// --- actions ----------------------------------------------------------------------------

async function act(verb, body) {
  const c = selectedCluster();
  if (!c || state.busy) return;
  state.busy = true;
  state.confirming = false;
  showAlert($('action-error'), []);
  $('action-note').textContent = '';
  renderDetail();
  try {
    const res = await api('POST', `/clusters/${encodeURIComponent(c.name)}/${verb}`, body);
    $('action-note').textContent = res?.message ?? '';
  } catch (err) {
    if (err instanceof ApiError && err.status !== 401) showAlert($('action-error'), err.messages);
  } finally {
    state.busy = false;
    await refreshFleet();
    renderDetail();
  }
}

function formFields(form) {
  const data = new FormData(form);
  return {
    cloud: String(data.get('cloud') ?? ''),
    region: String(data.get('region') ?? ''),
    instance_type: String(data.get('instance_type') ?? ''),
  };
}

async function launchNew(form) {
  const name = String(new FormData(form).get('name') ?? '').trim();
  const button = form.querySelector('button[type=submit]');
  showAlert($('new-error'), []);
  if (!name) return;
  button.disabled = true;
  try {
    await api('POST', `/clusters/${encodeURIComponent(name)}/launch`, launchBody(formFields(form)));
    form.reset();
    await refreshFleet();
    location.hash = hashFor(name);
  } catch (err) {
    if (err instanceof ApiError && err.status !== 401) showAlert($('new-error'), err.messages);
  } finally {
    button.disabled = false;
  }
}

// --- the token --------------------------------------------------------------------------

function askForToken(err) {
  const had = token.get() !== '';
  if (state.needToken) return;
  state.needToken = true;
  token.set('');
  logStream.close();
  fleetStream.close();
  $('console').hidden = true;
  $('token-panel').hidden = false;
  showAlert($('token-error'), had ? [`The token was refused: ${err.messages.join(' ')}`] : []);
  $('token-input').focus();
  renderConnection();
}

function useToken(value) {
  token.set(value);
  state.needToken = false;
  $('token-panel').hidden = true;
  $('token-form').reset();
  start();
}

// --- rendering --------------------------------------------------------------------------

function render() {
  if (!state.loaded || state.needToken) return;
  $('console').hidden = false;
  renderFleet();
  renderDetail();
  renderConnection();
}

function text(v) {
  return v == null || v === '' ? '–' : String(v);
}

function renderFleet() {
  const tbody = $('fleet-rows');
  const rows = new Map([...tbody.children].map((tr) => [tr.dataset.name, tr]));
  const now = Date.now();
  const wanted = state.clusters.map((c) => {
    let tr = rows.get(c.name);
    if (!tr) {
      tr = document.createElement('tr');
      tr.dataset.name = c.name;
      const nameCell = document.createElement('th');
      nameCell.scope = 'row';
      const a = document.createElement('a');
      a.href = hashFor(c.name);
      a.textContent = c.name;
      nameCell.append(a);
      const tag = document.createElement('span');
      tag.className = 'tag';
      tag.textContent = 'default';
      nameCell.append(' ', tag);
      tr.append(nameCell);
      for (const label of ['Status', 'Cloud', 'Region', 'IP', 'Age']) {
        const td = document.createElement('td');
        td.dataset.label = label;
        tr.append(td);
      }
    }
    const [nameCell, status, cloud, region, ip, ageCell] = tr.children;
    nameCell.querySelector('.tag').hidden = !c.default;
    const a = nameCell.querySelector('a');
    if (c.name === state.selected) a.setAttribute('aria-current', 'true');
    else a.removeAttribute('aria-current');
    tr.classList.toggle('selected', c.name === state.selected);
    status.replaceChildren(badge(c.status));
    cloud.textContent = text(c.cloud);
    region.textContent = text(c.region);
    ip.textContent = text(c.ip);
    ip.className = 'mono';
    ageCell.textContent = text(age(c.launched_at, now));
    return tr;
  });
  tbody.replaceChildren(...wanted);
}

function badge(status) {
  const span = document.createElement('span');
  span.className = 'badge';
  span.dataset.status = status;
  span.textContent = status;
  return span;
}

function renderDetail() {
  const c = selectedCluster();
  if (!c) return;
  $('detail-name').textContent = c.name;
  $('detail-default').hidden = !c.default;
  const st = $('detail-status');
  if (st.textContent !== c.status) st.textContent = c.status;
  st.dataset.status = c.status;
  $('fact-cloud').textContent = text(c.cloud);
  $('fact-region').textContent = text(c.region);
  $('fact-ip').textContent = text(c.ip);
  $('fact-age').textContent = text(age(c.launched_at));
  $('fact-age').title = c.launched_at ? `up since ${new Date(c.launched_at * 1000).toLocaleString()}` : '';
  showAlert($('cluster-error'), c.error ? [c.error] : []);
  document.title = `${c.name} · ${c.status} — skygate`;

  const allowed = new Set(allowedActions(c.status));
  if (!allowed.has('destroy')) state.confirming = false;
  const launch = $('launch-form');
  launch.hidden = !allowed.has('launch');
  launch.setAttribute('aria-label', `Launch ${c.name}`);
  $('btn-stop').hidden = !allowed.has('stop');
  $('btn-start').hidden = !allowed.has('start');
  $('btn-destroy').hidden = !allowed.has('destroy') || state.confirming;
  $('confirm').hidden = !state.confirming;
  $('confirm-text').textContent = `Destroy ${c.name} and all its cloud resources? This cannot be undone.`;
  for (const b of document.querySelectorAll('#detail .actions button')) b.disabled = state.busy;
  $('detail').classList.toggle('busy', BUSY.has(c.status));
}

function renderConnection() {
  const el = $('conn');
  let s = state.streamState;
  let label = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', closed: 'Not following' }[s] ?? s;
  if (state.needToken) {
    s = 'locked';
    label = 'Token needed';
  } else if (!state.reachable) {
    s = 'down';
    label = 'skygate unreachable';
  }
  el.dataset.state = s;
  if (el.textContent !== label) el.textContent = label;
  $('log-state').textContent = state.streamState === 'live' ? 'live' : label.toLowerCase();
}

function renderCheck(check) {
  const version = $('sky-version');
  version.textContent = check.sky_installed
    ? `SkyPilot ${check.sky_version ?? '(version unknown)'} is installed.`
    : 'SkyPilot is not installed: launches answer 424 until sky is on the PATH.';
  version.classList.toggle('warn', !check.sky_installed);
  const enabled = $('enabled-clouds');
  const clouds = check.enabled_clouds ?? [];
  enabled.replaceChildren(
    ...(clouds.length
      ? clouds.map((c) => Object.assign(document.createElement('li'), { textContent: c, className: 'cloud' }))
      : [Object.assign(document.createElement('li'), { textContent: 'none', className: 'muted' })]),
  );
  $('cloud-list').replaceChildren(...clouds.map((c) => Object.assign(document.createElement('option'), { value: c })));
  const disabled = $('disabled-clouds');
  const entries = Object.entries(check.disabled_clouds ?? {}).sort(([a], [b]) => a.localeCompare(b));
  disabled.replaceChildren(
    ...entries.flatMap(([cloud, reason]) => {
      const wrap = document.createElement('div');
      wrap.append(
        Object.assign(document.createElement('dt'), { textContent: cloud }),
        Object.assign(document.createElement('dd'), { textContent: reason || 'no reason given' }),
      );
      return [wrap];
    }),
  );
  if (entries.length === 0) disabled.append(Object.assign(document.createElement('div'), { textContent: 'none', className: 'muted' }));
}

function showAlert(el, messages) {
  if (messages.length === 0) {
    el.hidden = true;
    el.replaceChildren();
    return;
  }
  el.replaceChildren(
    ...messages.map((m) => Object.assign(document.createElement(el.tagName === 'P' ? 'span' : 'p'), { textContent: m })),
  );
  el.hidden = false;
}

function appendLog(ev) {
  const log = $('log');
  const pinned = log.scrollHeight - log.scrollTop - log.clientHeight < 24;
  const li = document.createElement('li');
  li.className = `ev ev-${ev.event}`;
  li.dataset.id = String(ev.id);
  if (ev.status) li.dataset.status = ev.status;
  const time = document.createElement('time');
  time.dateTime = ev.timestamp ?? '';
  time.textContent = clockTime(ev.timestamp);
  const msg = document.createElement('span');
  msg.className = 'msg';
  msg.textContent = ev.message ?? '';
  li.append(time, ' ', msg);
  log.append(li);
  while (log.childElementCount > MAX_LOG_LINES) log.firstElementChild.remove();
  $('log-empty').hidden = true;
  if (pinned) log.scrollTop = log.scrollHeight;
}

// --- start ------------------------------------------------------------------------------

function start() {
  state.loaded = false;
  const selected = state.selected;
  state.selected = null;
  refreshCheck();
  refreshFleet().then(() => {
    if (state.selected == null && selected) select(selected);
  });
  fleetStream.open(null);
}

function bind() {
  // Both launch forms take the same resource fields.
  const fields = $('launch-fields').content;
  $('launch-form').prepend(fields.cloneNode(true));
  $('new-form').querySelector('details').append(fields.cloneNode(true));
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const value = $('token-input').value.trim();
    if (value) useToken(value);
  });
  $('launch-form').addEventListener('submit', (e) => {
    e.preventDefault();
    act('launch', launchBody(formFields(e.currentTarget)));
  });
  $('new-form').addEventListener('submit', (e) => {
    e.preventDefault();
    launchNew(e.currentTarget);
  });
  $('btn-stop').addEventListener('click', () => act('stop'));
  $('btn-start').addEventListener('click', () => act('start'));
  $('btn-destroy').addEventListener('click', () => {
    state.confirming = true;
    renderDetail();
    $('btn-confirm').focus();
  });
  $('btn-cancel').addEventListener('click', () => {
    state.confirming = false;
    renderDetail();
    $('btn-destroy').focus();
  });
  $('btn-confirm').addEventListener('click', () => act('destroy'));
  $('btn-check').addEventListener('click', () => refreshCheck(true));
  window.addEventListener('hashchange', () => {
    if (state.loaded) selectFromHash();
  });
  setInterval(() => {
    if (!document.hidden) refreshFleet();
  }, POLL_MS);
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) refreshFleet();
  });
}

bind();
start();
