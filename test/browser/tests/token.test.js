// With a token configured the console asks for it once, keeps it for the tab, and sends
// it on every request and event stream.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { consoleOf, logLines, until, waitForText, setup, withPage } from '../lib/harness.js';

const TOKEN = 'correct-horse-battery-staple';

const env = setup({ token: TOKEN, delayMs: 30 });

test('the page asks for the token, then works with it', async () => {
  // The API itself refuses a request without it.
  const bare = await fetch(env.sky.url + '/clusters');
  assert.equal(bare.status, 401);

  await withPage(env.browser, 'token', async (page) => {
    await page.goto(env.sky.url + '/');
    const ask = page.getByRole('region', { name: 'Access token' });
    const input = ask.getByLabel('Token', { exact: true });
    await input.waitFor();
    assert.equal(await page.getByRole('status').count(), 0, 'nothing of the fleet shows before the token');

    // A wrong token is refused in words, and asked again.
    await input.fill('wrong');
    await ask.getByRole('button', { name: 'Sign in' }).click();
    await waitForText(ask.getByRole('alert'), /token was refused/i);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('skygate.token')), null, 'a refused token is not kept');

    await input.fill(TOKEN);
    await ask.getByRole('button', { name: 'Sign in' }).click();
    const c = consoleOf(page);
    await waitForText(c.status, 'no_server');
    assert.equal(await ask.isVisible(), false);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('skygate.token')), TOKEN);

    // Requests and the event stream carry it: a launch runs and its lines stream in.
    await c.button('Launch').click();
    await waitForText(c.status, 'running', 20000);
    await until(async () => (await logLines(page)).some((l) => /Cluster launched: skygate/.test(l.message)), { message: 'launch lines over the stream' });
    await waitForText(c.credentials.getByRole('listitem').filter({ hasText: /^gcp$/ }), 'gcp');

    // A reload in the same tab does not ask again.
    await page.reload();
    await waitForText(consoleOf(page).status, 'running');
    assert.equal(await ask.isVisible(), false);

    // Every request the console made after signing in was let in.
    const refused = env.sky.requests().filter((r) => r.status === 401).map((r) => r.path);
    assert.ok(refused.length >= 1, 'the first visit was refused');
    const afterSignIn = env.sky.requests().slice(env.sky.requests().findIndex((r) => r.path === '/clusters/skygate/launch'));
    assert.deepEqual(afterSignIn.filter((r) => r.status === 401), [], 'no 401 once the token was given');
  }, { skygate: env.sky });

  // Another tab (a new browser context: its own sessionStorage) is asked again.
  await withPage(env.browser, 'token new tab', async (page) => {
    await page.goto(env.sky.url + '/');
    await page.getByRole('region', { name: 'Access token' }).getByLabel('Token', { exact: true }).waitFor();
  }, { skygate: env.sky });
});
