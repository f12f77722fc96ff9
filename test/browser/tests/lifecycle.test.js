// A first visit launches the default cluster, watches its log live, then stops, starts
// and destroys it; a second cluster is launched by name and opened by its address.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertUniqueIds, consoleOf, logLines, until, waitForText, setup, withPage } from '../lib/harness.js';

const env = setup({ delayMs: 120 });

test('launch, live log, stop, start, destroy with Confirm', async () => {
  await withPage(env.browser, 'lifecycle', async (page) => {
    await page.goto(env.sky.url + '/');
    const c = consoleOf(page);
    await waitForText(c.status, 'no_server');
    // The transition table: at no_server only Launch is offered.
    assert.equal(await c.button('Stop').count(), 0);
    assert.equal(await c.button('Start').count(), 0);
    assert.equal(await c.button('Destroy').count(), 0);

    // The credential check: enabled clouds, and the reason of a disabled one.
    await waitForText(c.credentials.getByRole('listitem').filter({ hasText: /^aws$/ }), 'aws');
    await waitForText(c.credentials.getByRole('definition').first(), /az login/);

    await c.field('Cloud').fill('aws');
    await c.field('Region').fill('us-east-1');
    await c.button('Launch').click();

    // Progress lines reach the log while the cluster is still provisioning.
    const seen = await page.waitForFunction(
      () => {
        const log = document.querySelector('[role=log]');
        const line = [...log.querySelectorAll('li')].find((li) => li.textContent.includes('Launching on AWS us-east-1'));
        return line ? document.querySelector('[role=status]').textContent : null;
      },
      null,
      { timeout: 15000 },
    );
    assert.equal(await seen.jsonValue(), 'provisioning', 'the first sky line showed before the launch ended');

    await waitForText(c.status, 'running', 20000);
    const ip = await waitForText(c.detail.locator('#fact-ip'), /^\d+\.\d+\.\d+\.\d+$/);
    await waitForText(c.detail.locator('#fact-cloud'), 'aws');
    await waitForText(c.detail.locator('#fact-region'), 'us-east-1');
    await waitForText(c.detail.locator('#fact-age'), 'just now');
    const row = c.fleet.getByRole('row').filter({ has: page.getByRole('link', { name: 'skygate', exact: true }) });
    await waitForText(row.getByRole('cell').nth(0), 'running');
    await waitForText(row.getByRole('cell').nth(3), ip);
    await until(async () => (await logLines(page)).some((l) => l.event === 'complete'), { message: 'the complete event in the log' });
    assert.equal(await c.button('Launch').count(), 0);
    assert.equal(await c.button('Start').count(), 0);

    await c.button('Stop').click();
    await waitForText(c.status, /^(stopping|stopped)$/);
    await waitForText(c.status, 'stopped', 20000);
    await waitForText(c.detail.locator('#fact-ip'), '–');
    await c.button('Start').click();
    await waitForText(c.status, 'running', 20000);

    // Destroy asks first; Cancel keeps the cluster.
    await c.button('Destroy').click();
    await waitForText(c.detail.getByText(/cannot be undone/), /Destroy skygate/);
    await c.button('Cancel').click();
    assert.equal(await c.button('Confirm').count(), 0);
    assert.equal(await c.status.textContent(), 'running');
    assert.ok(!env.sky.skyCommands().includes('down'), 'Cancel ran no sky down');

    await c.button('Destroy').click();
    await c.button('Confirm').click();
    await waitForText(c.status, 'no_server', 20000);
    await waitForText(c.detail.locator('#fact-cloud'), '–');
    await c.button('Launch').waitFor();

    const lines = await logLines(page);
    assertUniqueIds(lines, assert);
    const statuses = lines.filter((l) => l.event === 'status').map((l) => l.status);
    assert.deepEqual(statuses, ['provisioning', 'running', 'stopping', 'stopped', 'starting', 'running', 'destroying', 'no_server']);
    const cmds = env.sky.skyCommands();
    for (const cmd of ['launch', 'stop', 'start', 'down']) assert.ok(cmds.includes(cmd), `sky ${cmd} ran: ${cmds}`);
    assert.equal(await c.alerts.count(), 0, 'no alert on the way');
  }, { skygate: env.sky });
});

test('a new cluster by name, then opened by its address with its log', async () => {
  await withPage(env.browser, 'named cluster', async (page) => {
    await page.goto(env.sky.url + '/');
    const fleet = consoleOf(page).fleet;
    const form = page.getByRole('form', { name: 'New cluster' });
    await form.getByRole('textbox', { name: 'Name', exact: true }).fill('team-a');
    await form.getByRole('button', { name: 'Launch', exact: true }).click();
    await until(async () => page.url().endsWith('#/clusters/team-a'), { message: 'the address of team-a' });
    const c = consoleOf(page, 'team-a');
    await waitForText(c.status, 'running', 20000);
    await waitForText(fleet.getByRole('link', { name: 'team-a', exact: true }), 'team-a');

    // The default cluster is one click away, and back.
    await fleet.getByRole('link', { name: 'skygate', exact: true }).click();
    await waitForText(consoleOf(page).status, 'no_server');
    await fleet.getByRole('link', { name: 'team-a', exact: true }).click();
    await waitForText(c.status, 'running');

    // Opened afresh at its address, the page replays the last operation's log.
    const fresh = await page.context().newPage();
    await fresh.goto(env.sky.url + '/#/clusters/team-a');
    const f = consoleOf(fresh, 'team-a');
    await waitForText(f.status, 'running');
    await until(async () => (await logLines(fresh, 'team-a')).some((l) => /Cluster launched: team-a/.test(l.message)), {
      message: 'the launch lines replayed on opening',
    });
    assertUniqueIds(await logLines(fresh, 'team-a'), assert);
    await fresh.close();
  }, { skygate: env.sky });
});
