// Failures reach the operator in words, as alerts: a launch that sky refuses for want of
// quota, and a request the service refuses.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { consoleOf, logLines, until, waitForText, setup, withPage } from '../lib/harness.js';

const env = setup({ scenario: 'quota', delayMs: 30 });

test('a quota failure is an alert in words, and the launch can be retried', async () => {
  await withPage(env.browser, 'quota', async (page) => {
    await page.goto(env.sky.url + '/');
    const c = consoleOf(page);
    await waitForText(c.status, 'no_server');
    await c.button('Launch').click();
    await waitForText(c.status, 'error', 20000);
    const alert = c.alerts.filter({ hasText: /quota/i });
    const text = await waitForText(alert, /Found no quota for \S+ on-demand instances in region/);
    assert.doesNotMatch(text, /[{}"]|\x1b/, 'words, not JSON or escapes');
    await until(async () => (await logLines(page)).some((l) => l.event === 'error'), { message: 'the error event in the log' });
    // error allows a retry and a destroy, nothing else.
    await c.button('Launch').waitFor();
    await c.button('Destroy').waitFor();
    assert.equal(await c.button('Stop').count(), 0);
    assert.equal(await c.button('Start').count(), 0);
    // The row in the fleet says error too.
    const row = c.fleet.getByRole('row').filter({ has: page.getByRole('link', { name: 'skygate', exact: true }) });
    await waitForText(row.getByRole('cell').nth(0), 'error');
  }, { skygate: env.sky });
});

test('a refused request is an alert naming the field', async () => {
  await withPage(env.browser, 'invalid launch', async (page) => {
    await page.goto(env.sky.url + '/#/clusters/bad-cloud');
    const c = consoleOf(page, 'bad-cloud');
    await waitForText(c.status, 'no_server');
    await c.field('Cloud').fill('nosuchcloud');
    await c.button('Launch').click();
    const text = await waitForText(c.alerts, /^Cloud: /);
    assert.match(text, /nosuchcloud|cloud/i);
    assert.equal(await c.status.textContent(), 'no_server');

    const form = page.getByRole('form', { name: 'New cluster' });
    await form.getByRole('textbox', { name: 'Name', exact: true }).fill('9-not-a-name');
    await form.getByRole('button', { name: 'Launch', exact: true }).click();
    await waitForText(form.getByRole('alert'), /^Name: /);

    // An address naming a cluster skygate cannot have says so instead of retrying forever.
    await page.goto(env.sky.url + '/#/clusters/9-not-a-name');
    await waitForText(consoleOf(page, '9-not-a-name').alerts, /^Name: cluster name "9-not-a-name" is invalid/);
    await waitForText(page.locator('#conn'), 'Not following');
    assert.ok(!env.sky.skyCommands().some((cmd, i) => cmd === 'launch' && env.sky.skyRuns()[i].join(' ').includes('bad-cloud')), 'no sky launch for refused requests');
  }, { skygate: env.sky });
});
