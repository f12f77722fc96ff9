// Writes docs/console.png (desktop, light) and docs/console-narrow-dark.png (360 px, dark):
// the console over a small fleet on the stub sky, the default cluster running.

import { join } from 'node:path';
import { Skygate, consoleOf, launchBrowser, repoRoot, until, waitForText } from './lib/harness.js';

const sky = new Skygate({ delayMs: 20 });
const browser = await launchBrowser();
try {
  await sky.start();
  const launch = (name, body) => sky.api('POST', `/clusters/${name}/launch`, body);
  const statusOf = async (name) => (await sky.api('GET', `/clusters/${name}/status`)).body.result.status;
  const settle = (name, want) => until(async () => (await statusOf(name)) === want, { timeout: 20000, message: `${name} ${want}` });

  await launch('train-a100', { cloud: 'gcp', region: 'us-central1' });
  await launch('eval-nightly', { cloud: 'aws', region: 'eu-west-1' });
  await settle('train-a100', 'running');
  await settle('eval-nightly', 'running');
  await sky.api('POST', '/clusters/eval-nightly/stop');
  await settle('eval-nightly', 'stopped');

  const open = async (options) => {
    const context = await browser.newContext(options);
    const page = await context.newPage();
    await page.goto(sky.url + '/');
    return { context, page };
  };

  // The default cluster is launched from the console itself, so its log is the live one.
  const { context, page } = await open({ viewport: { width: 1360, height: 940 }, colorScheme: 'light' });
  const c = consoleOf(page);
  await waitForText(c.status, 'no_server');
  await c.field('Cloud').fill('aws');
  await c.field('Region').fill('us-east-1');
  await c.field('Instance type').fill('m6i.large');
  await c.button('Launch').click();
  await waitForText(c.status, 'running', 20000);
  await until(async () => (await c.log.locator('.ev-complete').count()) > 0, { message: 'the complete line' });
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(repoRoot, 'docs/console.png') });
  await context.close();

  const narrow = await open({ viewport: { width: 360, height: 1400 }, colorScheme: 'dark', deviceScaleFactor: 1 });
  await waitForText(consoleOf(narrow.page).status, 'running');
  await until(async () => (await consoleOf(narrow.page).log.locator('.ev-complete').count()) > 0, { message: 'the replayed log' });
  await narrow.page.waitForTimeout(300);
  await narrow.page.screenshot({ path: join(repoRoot, 'docs/console-narrow-dark.png') });
  await narrow.context.close();
  console.log('wrote docs/console.png and docs/console-narrow-dark.png');
} finally {
  await browser.close();
  await sky.close();
}
