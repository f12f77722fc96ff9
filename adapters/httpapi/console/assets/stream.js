// One Server-Sent Events stream of skygate, resumed without loss or repetition.
//
// The browser's EventSource reconnects by itself after a dropped connection (a skygate
// restart) and sends Last-Event-ID, so skygate replays only what followed. When the
// EventSource gives up (an answer that is not a stream: 401, 503), this opens a new one
// with ?after= the last id seen. Ids only grow, so an event at or below the last id seen
// is one already shown, and is dropped.

import { streamURL } from './api.js';

const TYPES = ['progress', 'complete', 'error', 'status'];

export class EventStream {
  /**
   * @param {string} path e.g. /clusters/NAME/events
   * @param {{onEvent: Function, onState?: Function, onGiveUp?: Function}} handlers
   *   onEvent({id, event, timestamp, type, message, cluster?, status?}) for each new event;
   *   onState('connecting' | 'live' | 'reconnecting') as the connection goes;
   *   onGiveUp() when the EventSource closed for good (before this retries).
   */
  constructor(path, { onEvent, onState = () => {}, onGiveUp = () => {} }) {
    this.path = path;
    this.onEvent = onEvent;
    this.onState = onState;
    this.onGiveUp = onGiveUp;
    this.lastId = null;
    this.es = null;
    this.retry = null;
    this.backoff = 1000;
    this.closed = true;
  }

  /** Opens the stream: after=0 replays every kept event, after=null only what comes. */
  open(after = 0) {
    this.close();
    this.closed = false;
    this.lastId = after;
    this.connect();
  }

  close() {
    this.closed = true;
    clearTimeout(this.retry);
    this.retry = null;
    if (this.es) {
      this.es.close();
      this.es = null;
    }
  }

  connect() {
    const es = new EventSource(streamURL(this.path, this.lastId));
    this.es = es;
    this.onState('connecting');
    es.onopen = () => {
      this.backoff = 1000;
      this.onState('live');
    };
    for (const type of TYPES) {
      es.addEventListener(type, (e) => {
        // skygate's `event: error` and the EventSource's own error event share a name;
        // only the former carries data.
        if (typeof e.data === 'string') this.deliver(type, e);
        else if (type === 'error') this.dropped(es);
      });
    }
  }

  deliver(event, e) {
    const id = Number(e.lastEventId);
    if (Number.isFinite(id) && id > 0) {
      if (this.lastId != null && id <= this.lastId) return;
      this.lastId = id;
    }
    let data;
    try {
      data = JSON.parse(e.data);
    } catch {
      return;
    }
    this.onEvent({ ...data, id, event });
  }

  dropped(es) {
    if (this.closed || es !== this.es) return;
    if (es.readyState !== EventSource.CLOSED) {
      this.onState('reconnecting');
      return;
    }
    es.close();
    this.es = null;
    this.onState('reconnecting');
    this.onGiveUp();
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, 15000);
    this.retry = setTimeout(() => {
      if (!this.closed) this.connect();
    }, wait);
  }
}
