// The HTTP side of the console: ResultEnvelope requests with the tab's bearer token.

import { errorMessages } from './format.js';

const TOKEN_KEY = 'skygate.token';

/** An error answer (or no answer): the HTTP status (0 when unreachable) and the messages in words. */
export class ApiError extends Error {
  constructor(status, messages, errors = null) {
    super(messages.join(' '));
    this.status = status;
    this.messages = messages;
    this.errors = errors;
  }
}

/** The bearer token of this tab, kept in sessionStorage. */
export const token = {
  get() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || '';
    } catch {
      return '';
    }
  },
  set(value) {
    try {
      if (value) sessionStorage.setItem(TOKEN_KEY, value);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      // storage refused (private mode): the token lasts as long as the page
    }
    memory = value;
  },
};
let memory = '';

function currentToken() {
  return token.get() || memory;
}

/**
 * Sends one request and answers the envelope's result. A non-2xx answer or a network
 * failure throws ApiError; onUnauthorized is told of every 401.
 */
export async function request(method, path, { body, signal, onUnauthorized } = {}) {
  const headers = { Accept: 'application/json' };
  const t = currentToken();
  if (t) headers.Authorization = `Bearer ${t}`;
  const init = { method, headers, signal, cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw new ApiError(0, ['skygate does not answer; is it running?']);
  }
  let env = null;
  try {
    env = await resp.json();
  } catch {
    // not JSON: a proxy's page, say
  }
  if (resp.ok && env?.status === 'success') return env.result;
  const messages = errorMessages(env?.errors);
  if (messages.length === 0) messages.push(`skygate answered ${resp.status} ${resp.statusText}`.trim());
  const err = new ApiError(resp.status, messages, env?.errors ?? null);
  if (resp.status === 401) onUnauthorized?.(err);
  throw err;
}

/** The URL of an event stream: after=N replays what follows event N; the token goes in the query. */
export function streamURL(path, after) {
  const params = new URLSearchParams();
  if (after != null) params.set('after', String(after));
  const t = currentToken();
  if (t) params.set('access_token', t);
  const q = params.toString();
  return q ? `${path}?${q}` : path;
}
