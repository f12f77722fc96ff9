// The console's pure helpers and its event stream, in Node without a browser.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allowedActions, age, errorMessages, hashFor, launchBody, nameFromHash } from '../../../adapters/httpapi/console/assets/format.js';

// The table itself is checked against core's by the console package's Go test.
test('actions of an unknown status: none', () => {
  assert.deepEqual(allowedActions('unheard_of'), []);
  assert.deepEqual(allowedActions('running'), ['stop', 'destroy']);
});

test('error messages in words', () => {
  assert.deepEqual(
    errorMessages({ 'body.cloud': ['unknown cloud "x"'], cluster: ['cannot stop: cluster a is stopped (needs running)'], 'path.name': ['bad', 'worse'] }),
    ['Cloud: unknown cloud "x"', 'Cannot stop: cluster a is stopped (needs running)', 'Name: bad', 'Name: worse'],
  );
  assert.deepEqual(errorMessages({ 'body.disk_size': ['too big'] }), ['Disk size: too big']);
  assert.deepEqual(errorMessages(null), []);
});

test('ages, hashes and launch bodies', () => {
  const now = 1_000_000_000_000;
  assert.equal(age(null, now), '');
  assert.equal(age(now / 1000 - 5, now), 'just now');
  assert.equal(age(now / 1000 - 4 * 60, now), '4 min');
  assert.equal(age(now / 1000 - 125 * 60, now), '2 h 5 min');
  assert.equal(age(now / 1000 - 3 * 86400, now), '3 d');
  assert.equal(nameFromHash(hashFor('team-a.b_c')), 'team-a.b_c');
  assert.equal(nameFromHash('#/clusters/'), null);
  assert.equal(nameFromHash(''), null);
  assert.equal(nameFromHash('#/clusters/%E0%A4%A'), null);
  assert.deepEqual(launchBody({ cloud: ' AWS ', region: '', instance_type: 'm5.xlarge' }), { cloud: 'aws', instance_type: 'm5.xlarge' });
  assert.deepEqual(launchBody(), {});
});

// A stand-in for the browser's EventSource: the test says what the server sends.
class FakeEventSource {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 2;
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = FakeEventSource.CONNECTING;
    this.listeners = {};
    FakeEventSource.all.push(this);
  }
  addEventListener(type, fn) {
    (this.listeners[type] ??= []).push(fn);
  }
  close() {
    this.readyState = FakeEventSource.CLOSED;
  }
  open() {
    this.readyState = FakeEventSource.OPEN;
    this.onopen?.();
  }
  send(type, id, data) {
    for (const fn of this.listeners[type] ?? []) fn({ type, lastEventId: String(id), data: JSON.stringify(data) });
  }
  fail(closed) {
    this.readyState = closed ? FakeEventSource.CLOSED : FakeEventSource.CONNECTING;
    for (const fn of this.listeners.error ?? []) fn({ type: 'error' });
  }
}

test('the stream shows each event once and resumes after the last one', async () => {
  globalThis.EventSource = FakeEventSource;
  const { EventStream } = await import('../../../adapters/httpapi/console/assets/stream.js');
  const got = [];
  const states = [];
  let gaveUp = 0;
  const s = new EventStream('/clusters/a/events', { onEvent: (e) => got.push(e), onState: (x) => states.push(x), onGiveUp: () => gaveUp++ });
  s.open(0);
  const first = FakeEventSource.all.at(-1);
  assert.equal(first.url, '/clusters/a/events?after=0');
  first.open();
  first.send('status', 1, { type: 'status', message: 'provisioning', status: 'provisioning' });
  first.send('progress', 2, { type: 'progress', message: 'one' });
  // A reconnect of the EventSource itself, replaying what it already had.
  first.fail(false);
  first.send('progress', 2, { type: 'progress', message: 'one' });
  first.send('progress', 3, { type: 'progress', message: 'two' });
  // skygate's own `event: error` is an event, not a lost connection.
  first.send('error', 4, { type: 'error', message: 'quota' });
  assert.deepEqual(got.map((e) => [e.id, e.event, e.message]), [[1, 'status', 'provisioning'], [2, 'progress', 'one'], [3, 'progress', 'two'], [4, 'error', 'quota']]);
  assert.equal(got[0].status, 'provisioning');
  assert.equal(gaveUp, 0);

  // Given up (a 401 or 503): a new EventSource resumes after the last id.
  first.fail(true);
  assert.equal(gaveUp, 1);
  assert.equal(states.at(-1), 'reconnecting');
  await new Promise((r) => setTimeout(r, 1100));
  const second = FakeEventSource.all.at(-1);
  assert.notEqual(second, first);
  assert.equal(second.url, '/clusters/a/events?after=4');
  second.open();
  second.send('progress', 4, { type: 'progress', message: 'quota' });
  second.send('complete', 5, { type: 'complete', message: 'done' });
  assert.deepEqual(got.map((e) => e.id), [1, 2, 3, 4, 5]);
  assert.equal(states.at(-1), 'live');
  s.close();
  assert.equal(second.readyState, FakeEventSource.CLOSED);
});
