// Another origin on the same machine cannot drive skygate from a browser: its fetches,
// beacons and form posts reach skygate and are refused, and nothing starts. An origin
// given in --cors-origins can launch.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { Skygate, freePort, setup, until, waitForText, withPage } from '../lib/harness.js';

const env = setup();
let attacker;
let trusted;
let trustedPort;

/** A tiny page server on a loopback port of its own: another origin. */
async function pageServer(html) {
  const port = await freePort();
  const srv = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(new URL(req.url, 'http://x').pathname === '/' ? html : '<!doctype html><title>sink</title>');
  });
  await new Promise((ok) => srv.listen(port, '127.0.0.1', ok));
  return { origin: `http://127.0.0.1:${port}`, close: () => new Promise((ok) => srv.close(ok)) };
}

function attackPage() {
  return `<!doctype html><title>attack</title>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe><iframe name="sink3"></iframe>
<script>
const target = new URLSearchParams(location.search).get('target');
const sent = [];
function post(form, target, path, fields, enctype) {
  const f = document.createElement('form');
  f.method = 'POST';
  f.action = target + path;
  f.target = form;
  if (enctype) f.enctype = enctype;
  for (const [k, v] of Object.entries(fields)) {
    const i = document.createElement('input');
    i.name = k; i.value = v; f.append(i);
  }
  document.body.append(f);
  return new Promise((ok) => {
    document.querySelector('iframe[name=' + form + ']').addEventListener('load', ok, { once: true });
    setTimeout(ok, 3000);
    f.submit();
  });
}
(async () => {
  const tries = [
    () => fetch(target + '/cluster/launch', { method: 'POST', mode: 'no-cors' }),
    () => fetch(target + '/cluster/launch', { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: '{}' }),
    () => fetch(target + '/clusters/skygate/launch', { method: 'POST', body: '{"cloud":"aws"}' }),
    () => fetch(target + '/clusters/evil/launch', { method: 'POST', mode: 'no-cors' }),
    () => navigator.sendBeacon(target + '/clusters/beacon/launch'),
  ];
  for (const t of tries) {
    try { await t(); sent.push('answered'); } catch (e) { sent.push('failed: ' + e.message); }
  }
  await post('sink1', target, '/cluster/launch', { cloud: 'aws' });
  await post('sink2', target, '/cluster/launch', { '{"cloud":"aws","x":"': '"}' }, 'text/plain');
  await post('sink3', target, '/clusters/formed/launch', {});
  document.title = 'sent ' + sent.join(', ');
})();
</script>`;
}

function trustedPage() {
  return `<!doctype html><title>trusted</title>
<button id="go">Launch from here</button><output id="out"></output>
<script>
document.getElementById('go').addEventListener('click', async () => {
  const target = new URLSearchParams(location.search).get('target');
  const r = await fetch(target + '/cluster/launch', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
  const env = await r.json();
  document.getElementById('out').textContent = r.status + ' ' + env.status;
});
</script>`;
}

/** A skygate of its own for each test, trusting the trusted page's origin. */
async function newSkygate(t) {
  const sky = new Skygate({ delayMs: 30, corsOrigins: [`http://127.0.0.1:${trustedPort}`] });
  t.after(() => sky.close());
  await sky.start();
  return sky;
}

before(async () => {
  trustedPort = await freePort();
  // Both pages learn skygate's address from their query string.
  attacker = await pageServer(attackPage());
  const t = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(trustedPage());
  });
  await new Promise((ok) => t.listen(trustedPort, '127.0.0.1', ok));
  trusted = { origin: `http://127.0.0.1:${trustedPort}`, close: () => new Promise((ok) => t.close(ok)) };
});

after(async () => {
  await attacker?.close();
  await trusted?.close();
});

test('a page of another origin cannot launch', async (t) => {
  const sky = await newSkygate(t);
  await withPage(env.browser, 'cross-origin attack', async (page) => {
    await page.goto(`${attacker.origin}/?target=${encodeURIComponent(sky.url)}`);
    await until(async () => (await page.title()).startsWith('sent'), { timeout: 20000, message: 'the attack page to send everything' });

    // Each attempt reached skygate and was refused before any use case ran. skygate
    // writes its request log out in batches (every 100 ms), so wait for the lines.
    await until(async () => sky.requests().filter((r) => r.method === 'POST').length >= 8, { timeout: 5000, message: 'the request log to show every attempt' }).catch(() => {});
    const posts = sky.requests().filter((r) => r.method === 'POST');
    assert.ok(posts.length >= 8, `the attempts reached skygate: ${JSON.stringify(posts)}`);
    for (const r of posts) assert.equal(r.status, 403, `${r.method} ${r.path} answered ${r.status}`);

    const status = await sky.api('GET', '/cluster/status');
    assert.equal(status.body.result.status, 'no_server');
    const list = await sky.api('GET', '/clusters');
    assert.deepEqual(list.body.result.map((c) => [c.name, c.status]), [['skygate', 'no_server']]);
    const writes = sky.skyCommands().filter((cmd) => ['launch', 'start', 'stop', 'down'].includes(cmd));
    assert.deepEqual(writes, [], `sky ran only reads: ${JSON.stringify(sky.skyRuns())}`);
  }, { skygate: sky });
});

test('a page of a --cors-origins origin can launch', async (t) => {
  const sky = await newSkygate(t);
  await withPage(env.browser, 'trusted origin', async (page) => {
    await page.goto(`${trusted.origin}/?target=${encodeURIComponent(sky.url)}`);
    await page.getByRole('button', { name: 'Launch from here' }).click();
    await waitForText(page.locator('#out'), '202 success');
    await until(async () => sky.skyCommands().includes('launch'), { message: 'sky launch to run' });
    await until(async () => (await sky.api('GET', '/cluster/status')).body.result.status === 'running', { timeout: 20000, message: 'the cluster to come up' });
  }, { skygate: sky });
});
