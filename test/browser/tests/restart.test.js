// skygate killed in the middle of a launch and started again on the same state dir and
// port: the page's event stream resumes with Last-Event-ID, the log goes on to the end of
// the launch, and no line shows twice.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertNoRepeatedLines, assertUniqueIds, consoleOf, logLines, sleep, until, waitForText, setup, withPage } from '../lib/harness.js';

// slow: every pause of the stub x10, so a launch takes about 8 x 0.6 s.
const env = setup({ scenario: 'slow', delayMs: 60 });

for (const signal of ['SIGKILL', 'SIGTERM']) {
  test(`a skygate restart (${signal}) in the middle of a launch`, async () => {
    await withPage(env.browser, `restart ${signal}`, async (page) => {
      const name = `restart-${signal.toLowerCase()}`;
      await page.goto(`${env.sky.url}/#/clusters/${name}`);
      const c = consoleOf(page, name);
      await waitForText(c.status, 'no_server');
      await c.button('Launch').click();
      await until(async () => (await logLines(page, name)).some((l) => /Launching on/.test(l.message)), {
        message: 'the first provisioning line',
      });
      const before = await logLines(page, name);
      assert.ok(!before.some((l) => /Cluster launched/.test(l.message)), 'the restart comes before the launch ends');

      await env.sky.stop(signal);
      await waitForText(page.locator('#conn'), /Reconnecting|unreachable/);
      await sleep(300);
      await env.sky.start();

      await waitForText(c.status, 'running', 30000);
      await until(async () => (await logLines(page, name)).some((l) => l.event === 'complete'), { timeout: 15000, message: 'the complete event after the restart' });
      await waitForText(page.locator('#conn'), 'Live');
      const lines = await logLines(page, name);
      assertUniqueIds(lines, assert);
      assertNoRepeatedLines(lines, assert);
      assert.ok(lines.some((l) => /Cluster launched: restart/.test(l.message)), 'the lines sky printed while skygate was down or after reached the page');
      assert.deepEqual(lines.slice(0, before.length), before, 'what was shown before the restart stays, in order');
      // A page opened now gets the kept history: the same lines, with the same ids.
      const fresh = await page.context().newPage();
      await fresh.goto(`${env.sky.url}/#/clusters/${name}`);
      await until(async () => (await logLines(fresh, name)).length >= lines.length, { message: 'the replayed history' });
      assert.deepEqual(await logLines(fresh, name), lines, 'the page that lived through the restart shows what a new page shows');
      await fresh.close();
      const launches = env.sky.skyRuns().filter((argv) => argv[1] === 'launch' && argv.includes(name));
      assert.equal(launches.length, 1, `one sky launch: the restart ran none again (${JSON.stringify(launches)})`);
    }, { skygate: env.sky });
  });
}
