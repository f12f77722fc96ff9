// What every browser test needs: bin/skygate with the stub sky on a free loopback port,
// Debian's Chromium through playwright-core, waiting helpers, and a screenshot when a
// test fails.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '../../..');
export const binDir = join(repoRoot, 'bin');
export const artifactsDir = join(repoRoot, 'test/browser/artifacts');

/** The flags the machine's Chromium needs: no sandbox as root, and no traffic of its own. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Debian's Chromium (or CHROMIUM_PATH); a missing one fails the test with what to do. */
export function chromiumPath() {
  const path = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (!existsSync(path)) {
    throw new Error(
      `Chromium is not installed at ${path}: the browser tests need Debian's chromium ` +
        `(as root: apt-get install -y chromium; or run bash test/chromium-ready.sh), or CHROMIUM_PATH set to a Chromium binary.`,
    );
  }
  return path;
}

/** A headless Chromium with a fresh profile (playwright makes a new --user-data-dir each launch). */
export async function launchBrowser() {
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS, timeout: 30000 });
}

/**
 * Starts a browser before the tests of a file, and a skygate with options when they are
 * given; ends both after the tests. The answer's browser and sky are set once started.
 */
export function setup(options) {
  const env = { browser: null, sky: null };
  before(async () => {
    env.browser = await launchBrowser();
    if (options) {
      env.sky = new Skygate(options);
      await env.sky.start();
    }
  });
  after(async () => {
    await env.browser?.close();
    await env.sky?.close();
  });
  return env;
}

/** A loopback port nobody listens on right now. */
export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it answers something truthy, and answers that; fails with message after timeout. */
export async function until(fn, { timeout = 15000, interval = 50, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${message} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    }
    await sleep(interval);
  }
}

/** Waits until locator's text equals (string) or matches (RegExp) want, and answers the text. */
export async function waitForText(locator, want, timeout = 15000) {
  let text = '';
  await until(
    async () => {
      text = ((await locator.count()) === 1 ? await locator.textContent({ timeout: 1000 }) : '') ?? '';
      text = text.trim();
      return typeof want === 'string' ? text === want : want.test(text);
    },
    { timeout, message: `text ${want} in ${locator} (it was ${JSON.stringify(text)})` },
  );
  return text;
}

/** bin/skygate serving on a free loopback port, with the stub sky first on PATH. */
export class Skygate {
  constructor({ token = '', corsOrigins = [], scenario = 'success', delayMs = 40, clusterName = 'skygate', extraArgs = [] } = {}) {
    for (const bin of ['skygate', 'sky']) {
      if (!existsSync(join(binDir, bin))) throw new Error(`bin/${bin} is missing: run make build stub first`);
    }
    this.token = token;
    this.corsOrigins = corsOrigins;
    this.scenario = scenario;
    this.delayMs = delayMs;
    this.clusterName = clusterName;
    this.extraArgs = extraArgs;
    this.dir = mkdtempSync(join(tmpdir(), 'skygate-browser-'));
    this.stateDir = join(this.dir, 'state');
    this.stubHome = join(this.dir, 'stub');
    this.skyLog = join(this.dir, 'sky.log');
    this.output = '';
    this.proc = null;
    this.port = 0;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    if (!this.port) this.port = await freePort();
    const args = ['serve', '--addr', `127.0.0.1:${this.port}`, '--state-dir', this.stateDir, '--cluster-name', this.clusterName,
      '--poll-interval', '300ms', '--shutdown-grace', '2s', '--kill-grace', '1s', ...this.extraArgs];
    if (this.token) args.push('--token', this.token);
    if (this.corsOrigins.length) args.push('--cors-origins', this.corsOrigins.join(','));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SKYGATE_') && !k.startsWith('SKYSTUB_')));
    Object.assign(env, {
      PATH: `${binDir}:${process.env.PATH}`,
      SKYSTUB_HOME: this.stubHome,
      SKYSTUB_DELAY_MS: String(this.delayMs),
      SKYSTUB_SCENARIO: this.scenario,
      SKYSTUB_LOG: this.skyLog,
    });
    const proc = spawn(join(binDir, 'skygate'), args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    this.exited = new Promise((ok) => proc.on('exit', (code, signal) => ok({ code, signal })));
    const keep = (chunk) => {
      this.output += chunk.toString();
      if (this.output.length > 1 << 20) this.output = this.output.slice(-(1 << 19));
    };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    await until(
      async () => {
        if (proc.exitCode !== null) throw new Error(`skygate exited with ${proc.exitCode}:\n${this.output}`);
        const r = await fetch(`${this.url}/healthz`).catch(() => null);
        return r?.ok;
      },
      { timeout: 10000, message: 'skygate to answer /healthz' },
    );
  }

  /** Ends skygate with signal and waits for it to go. */
  async stop(signal = 'SIGTERM') {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }

  /** Stops skygate and removes its state, leaving the stub's short runs to end by themselves. */
  async close() {
    await this.stop('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }

  /** The argv arrays the stub sky was run with. */
  skyRuns() {
    if (!existsSync(this.skyLog)) return [];
    return readFileSync(this.skyLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  }

  /** The sky commands run so far (launch, stop, ..., or a top-level option such as --version), in order. */
  skyCommands() {
    return this.skyRuns().map((argv) => argv[1]);
  }

  /** One API request from outside the browser, with the token when there is one. */
  async api(method, path, body) {
    const headers = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(this.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, body: await r.json() };
  }

  /** The request lines skygate logged (method, path, status). */
  requests() {
    return this.output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l);
        } catch {
          return null;
        }
      })
      .filter((r) => r && r.message === 'request');
  }
}

/**
 * Runs body(page) in a new context and page of browser; when it throws, saves a full-page
 * screenshot and skygate's output under test/browser/artifacts/ before failing.
 */
export async function withPage(browser, name, body, { skygate, context: contextOptions = {} } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...contextOptions });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  try {
    await body(page, context);
  } catch (err) {
    mkdirSync(artifactsDir, { recursive: true });
    const base = join(artifactsDir, name.replace(/[^a-z0-9]+/gi, '-').toLowerCase());
    await page.screenshot({ path: `${base}.png`, fullPage: true }).catch(() => {});
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${base}.log`, `${err.stack}\n\n--- browser console\n${consoleLines.join('\n')}\n\n--- skygate\n${skygate?.output ?? ''}`);
    err.message += `\n(screenshot and logs: ${base}.png, ${base}.log)`;
    throw err;
  } finally {
    await context.close();
  }
}

/** The console's parts, found by role as a person (or a screen reader) finds them. */
export function consoleOf(page, name = 'skygate') {
  const detail = page.getByRole('region', { name, exact: true });
  return {
    detail,
    status: detail.getByRole('status'),
    log: detail.getByRole('log'),
    button: (verb) => detail.getByRole('button', { name: verb, exact: true }),
    alerts: detail.getByRole('alert'),
    field: (label) => detail.getByLabel(label, { exact: true }),
    fleet: page.getByRole('region', { name: 'Clusters', exact: true }),
    credentials: page.getByRole('region', { name: 'Credentials', exact: true }),
  };
}

/** The log's lines as the page shows them: {id, event, status, message}. */
export function logLines(page, name = 'skygate') {
  return consoleOf(page, name).log.locator('li').evaluateAll((items) =>
    items.map((li) => ({
      id: Number(li.dataset.id),
      event: li.className.replace(/^ev ev-/, ''),
      status: li.dataset.status ?? null,
      message: li.querySelector('.msg')?.textContent ?? '',
    })),
  );
}

/** Fails unless every event id in the log shows once, in increasing order. */
export function assertUniqueIds(lines, assert) {
  const ids = lines.map((l) => l.id);
  assert.equal(new Set(ids).size, ids.length, `an event id shows twice: ${ids.join(',')}`);
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], `ids out of order at ${i}: ${ids.join(',')}`);
}

/**
 * Fails when a progress line shows twice: within one operation every line sky prints
 * differs, but for the rules of its tables (no letter or digit in them).
 */
export function assertNoRepeatedLines(lines, assert) {
  const progress = lines.filter((l) => l.event === 'progress' && /[\p{L}\p{N}]/u.test(l.message)).map((l) => l.message);
  const repeated = progress.filter((m, i) => progress.indexOf(m) !== i);
  assert.deepEqual(repeated, [], `progress lines shown twice: ${JSON.stringify(repeated)}`);
}
