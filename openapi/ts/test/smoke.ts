// Smoke test: runs the real skygate binary against the stub `sky` and drives the
// whole lifecycle through the generated client and the event stream helper.
// Needs `make build stub` first (bin/skygate and bin/sky at the repository root).
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  SkygateError,
  createSkygateClient,
  streamEvents,
  type ClusterStatus,
  type FleetEvent,
  type LaunchBody,
  type ReconnectInfo,
  type SkygateClient,
  type SkygateEvent,
} from "@skygate/client";

const TOKEN = "smoke-token";
const RUN_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

// This file runs as dist/test/smoke.js inside openapi/ts.
const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));
const binDir = path.join(repoRoot, "bin");

let passed = 0;
let failed = 0;
let timedOut = false;

async function check(name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
    passed++;
  } catch (err) {
    failed++;
    if (!timedOut) console.error(`FAIL ${name}`);
    throw err;
  }
}

interface Service {
  child: ChildProcess;
  baseUrl: string;
  stderr: string[];
}

async function startService(stateDir: string, skyHome: string): Promise<Service> {
  const child = spawn(
    path.join(binDir, "skygate"),
    ["serve", "--addr", "127.0.0.1:0", "--state-dir", stateDir, "--token", TOKEN, "--shutdown-grace", "2s"],
    {
      env: {
        ...process.env,
        PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ""}`,
        SKYSTUB_HOME: skyHome,
        SKYSTUB_DELAY_MS: "20",
        SKYSTUB_SCENARIO: "success",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const stderr: string[] = [];
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => stderr.push(chunk));

  const baseUrl = await new Promise<string>((resolve, reject) => {
    let stdout = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match?.[1]) resolve(match[1]);
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`skygate exited (${code}) before listening:\n${stderr.join("")}`)));
  });
  return { child, baseUrl, stderr };
}

async function stopService(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

/**
 * Opens the event stream, runs `action` once skygate has accepted the subscription
 * (so no event of the operation can be missed), and collects events up to the
 * first `complete` or `error`.
 */
async function follow(baseUrl: string, action: () => Promise<void>): Promise<SkygateEvent[]> {
  const events: SkygateEvent[] = [];
  const controller = new AbortController();
  let actionFailure: unknown;
  let actionDone: Promise<void> = Promise.resolve();
  await streamEvents({
    baseUrl,
    token: TOKEN,
    signal: controller.signal,
    onOpen: () => {
      actionDone = action().catch((err: unknown) => {
        actionFailure = err;
        controller.abort();
      });
    },
    onEvent: (event) => {
      events.push(event);
      if (event.event === "complete" || event.event === "error") controller.abort();
    },
  });
  await actionDone;
  if (actionFailure !== undefined) throw actionFailure;
  return events;
}

/**
 * As follow, on one named cluster's stream in the reconnecting mode: the action runs on
 * the first open only, and the stream ends at that cluster's first complete or error.
 */
async function followNamed(
  baseUrl: string,
  name: string,
  action: () => Promise<void>,
): Promise<{ events: FleetEvent[]; reconnects: ReconnectInfo[] }> {
  const events: FleetEvent[] = [];
  const reconnects: ReconnectInfo[] = [];
  const controller = new AbortController();
  let failure: unknown;
  let actionDone: Promise<void> = Promise.resolve();
  await streamEvents({
    baseUrl,
    token: TOKEN,
    path: "/clusters/{name}/events",
    name,
    signal: controller.signal,
    reconnect: { initialDelayMs: 50, maxDelayMs: 1000 },
    onReconnect: (info) => reconnects.push(info),
    onError: (err) => {
      failure = err;
    },
    onOpen: ({ reconnect }) => {
      if (reconnect) return;
      actionDone = action().catch((err: unknown) => {
        failure = err;
        controller.abort();
      });
    },
    onEvent: (event) => {
      events.push(event);
      if (event.event === "complete" || event.event === "error") controller.abort();
    },
  });
  await actionDone;
  if (failure !== undefined) throw failure;
  return { events, reconnects };
}

function assertOperationCompleted(events: (SkygateEvent | FleetEvent)[], reached: ClusterStatus): void {
  const failure = events.find((e) => e.event === "error");
  assert.equal(failure, undefined, `error event: ${failure?.data.message}`);
  const last = events.at(-1);
  assert.equal(last?.event, "complete", "stream ended before a complete event");
  for (let i = 1; i < events.length; i++) {
    assert.ok(events[i]!.id > events[i - 1]!.id, `event ids not increasing at ${i}: ${events.map((e) => e.id).join(",")}`);
  }
  const reachedAt = events.findIndex((e) => e.event === "status" && e.data.status === reached);
  assert.ok(reachedAt >= 0 && reachedAt < events.length - 1, `no status ${reached} event before complete`);
}

async function expectStatus(client: SkygateClient, want: ClusterStatus) {
  const { data, response } = await client.GET("/cluster/status");
  assert.equal(response.status, 200);
  assert.equal(data?.status, "success");
  assert.equal(data?.result.status, want);
  return data.result;
}

const stateDir = mkdtempSync(path.join(tmpdir(), "skygate-smoke-state-"));
const skyHome = mkdtempSync(path.join(tmpdir(), "skygate-smoke-sky-"));
let service: Service | undefined;

async function cleanUp(): Promise<void> {
  if (service) await stopService(service.child);
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(skyHome, { recursive: true, force: true });
}

async function run(): Promise<void> {
  try {
    service = await startService(stateDir, skyHome);
    const { baseUrl } = service;
    const client = createSkygateClient({ baseUrl, token: TOKEN });
    const anonymous = createSkygateClient({ baseUrl });

    await check("healthz is open", async () => {
      const { data, response } = await anonymous.GET("/healthz");
      assert.equal(response.status, 200);
      assert.equal(data?.result.status, "ok");
    });

    await check("status starts as no_server", async () => {
      const result = await expectStatus(client, "no_server");
      assert.equal(result.name, null);
      assert.equal(result.ip, null);
    });

    await check("check finds sky and aws", async () => {
      const { data, response } = await client.GET("/cluster/check");
      assert.equal(response.status, 200);
      assert.equal(data?.result.sky_installed, true);
      assert.ok(data.result.enabled_clouds.includes("aws"), `enabled: ${data.result.enabled_clouds.join(",")}`);
    });

    await check("no token: 401 envelope", async () => {
      const { error, response } = await anonymous.GET("/cluster/status");
      assert.equal(response.status, 401);
      assert.equal(error?.status, "error");
      assert.equal(error.result, null);
      assert.ok(error.errors["auth"]?.length, JSON.stringify(error.errors));
    });

    await check("no token: event stream rejects with the envelope's errors", async () => {
      await assert.rejects(
        streamEvents({ baseUrl, signal: new AbortController().signal, onEvent: () => {} }),
        (err: unknown) => err instanceof SkygateError && err.status === 401 && Boolean(err.errors["auth"]?.length),
      );
    });

    let launchEvents: SkygateEvent[] = [];
    await check("launch: 202, events up to complete", async () => {
      launchEvents = await follow(baseUrl, async () => {
        const { data, response } = await client.POST("/cluster/launch", {
          body: { cloud: "aws", region: "us-east-1" },
        });
        assert.equal(response.status, 202);
        assert.ok(data?.result.cluster_name);
      });
      assertOperationCompleted(launchEvents, "running");
    });

    await check("status running with ip and launched_at", async () => {
      const result = await expectStatus(client, "running");
      assert.equal(result.cloud, "aws");
      assert.equal(result.region, "us-east-1");
      assert.ok(result.ip, "no ip");
      assert.equal(typeof result.launched_at, "number");
    });

    await check("second launch: 409 naming the cluster", async () => {
      const { error, response } = await client.POST("/cluster/launch", { body: {} });
      assert.equal(response.status, 409);
      assert.ok(error?.errors["cluster"]?.length, JSON.stringify(error?.errors));
    });

    let stopEvents: SkygateEvent[] = [];
    await check("stop: 202, events up to complete, stopped", async () => {
      stopEvents = await follow(baseUrl, async () => {
        const { response } = await client.POST("/cluster/stop");
        assert.equal(response.status, 202);
      });
      assertOperationCompleted(stopEvents, "stopped");
      const result = await expectStatus(client, "stopped");
      assert.equal(result.ip, null);
    });

    let destroyEvents: SkygateEvent[] = [];
    await check("destroy: 202, events up to complete, no_server", async () => {
      destroyEvents = await follow(baseUrl, async () => {
        const { response } = await client.POST("/cluster/destroy");
        assert.equal(response.status, 202);
      });
      assertOperationCompleted(destroyEvents, "no_server");
      await expectStatus(client, "no_server");
    });

    await check("Last-Event-ID replays the stop and destroy events", async () => {
      const after = launchEvents.at(-1)!.id;
      const until = destroyEvents.at(-1)!.id;
      const replayed: number[] = [];
      const controller = new AbortController();
      await streamEvents({
        baseUrl,
        token: TOKEN,
        lastEventId: after,
        signal: controller.signal,
        onEvent: (event) => {
          replayed.push(event.id);
          if (event.id >= until) controller.abort();
        },
      });
      for (const event of [...stopEvents, ...destroyEvents]) {
        assert.ok(replayed.includes(event.id), `event ${event.id} not replayed: ${replayed.join(",")}`);
      }
      assert.ok(replayed.every((id) => id > after));
    });

    const fleetName = "team-a.smoke";
    await check("fleet: /clusters lists only the default cluster, at no_server", async () => {
      const { data, response } = await client.GET("/clusters");
      assert.equal(response.status, 200);
      assert.deepEqual(
        data?.result.map((c) => [c.name, c.default, c.status]),
        [["skygate", true, "no_server"]],
      );
    });

    let fleetLaunch: FleetEvent[] = [];
    await check("fleet: launch a named cluster, followed on its own stream up to complete", async () => {
      const followed = await followNamed(baseUrl, fleetName, async () => {
        const { data, response } = await client.POST("/clusters/{name}/launch", {
          params: { path: { name: fleetName } },
          body: { cloud: "gcp" },
        });
        assert.equal(response.status, 202);
        assert.equal(data?.result.cluster_name, fleetName);
      });
      fleetLaunch = followed.events;
      assert.deepEqual(followed.reconnects, [], "the stream dropped");
      assertOperationCompleted(fleetLaunch, "running");
      assert.ok(fleetLaunch.every((e) => e.data.cluster === fleetName), "an event of another cluster");
    });

    await check("fleet: the named cluster's status, and /clusters lists it beside the default", async () => {
      const status = await client.GET("/clusters/{name}/status", { params: { path: { name: fleetName } } });
      assert.equal(status.response.status, 200);
      assert.equal(status.data?.result.status, "running");
      assert.equal(status.data.result.cloud, "gcp");
      assert.ok(status.data.result.ip, "no ip");
      const { data } = await client.GET("/clusters");
      const records = data?.result ?? [];
      assert.deepEqual(
        records.map((c) => [c.name, c.default, c.status]),
        [
          ["skygate", true, "no_server"],
          [fleetName, false, "running"],
        ],
      );
    });

    await check("fleet: /events with after=0 replays every kept event, each naming its cluster", async () => {
      const until = fleetLaunch.at(-1)!.id;
      const replayed: FleetEvent[] = [];
      const controller = new AbortController();
      await streamEvents({
        baseUrl,
        token: TOKEN,
        path: "/events",
        after: 0,
        signal: controller.signal,
        onEvent: (event) => {
          replayed.push(event);
          if (event.id >= until) controller.abort();
        },
      });
      const ids = replayed.map((e) => e.id);
      for (const event of [...launchEvents, ...stopEvents, ...destroyEvents]) {
        const got = replayed.find((e) => e.id === event.id);
        assert.equal(got?.data.cluster, "skygate", `default cluster event ${event.id}: ${JSON.stringify(got)}`);
      }
      for (const event of fleetLaunch) {
        assert.ok(ids.includes(event.id), `event ${event.id} of ${fleetName} not replayed`);
      }
      assert.deepEqual(ids, [...ids].sort((a, b) => a - b), "ids out of order");
      assert.equal(new Set(ids).size, ids.length, "an id twice");
    });

    await check("fleet: destroy the named cluster; /clusters drops it", async () => {
      const { events } = await followNamed(baseUrl, fleetName, async () => {
        const { response } = await client.POST("/clusters/{name}/destroy", { params: { path: { name: fleetName } } });
        assert.equal(response.status, 202);
      });
      assertOperationCompleted(events, "no_server");
      const { data } = await client.GET("/clusters");
      assert.deepEqual(
        data?.result.map((c) => c.name),
        ["skygate"],
      );
    });

    await check("fleet: a name SkyPilot refuses is a 422 on path.name", async () => {
      const { error, response } = await client.POST("/clusters/{name}/launch", {
        params: { path: { name: "-bad-" } },
        body: {},
      });
      assert.equal(response.status, 422);
      assert.ok(error?.errors["path.name"]?.length, JSON.stringify(error?.errors));
    });

    await check("fleet: a reconnecting stream stops at once on 401", async () => {
      const errors: Error[] = [];
      const reconnects: ReconnectInfo[] = [];
      await streamEvents({
        baseUrl,
        token: "wrong-token",
        path: "/clusters/{name}/events",
        name: fleetName,
        signal: new AbortController().signal,
        reconnect: true,
        onReconnect: (info) => reconnects.push(info),
        onError: (err) => errors.push(err),
        onEvent: () => assert.fail("no event expected"),
      });
      assert.equal(reconnects.length, 0);
      assert.ok(errors[0] instanceof SkygateError && errors[0].status === 401, String(errors[0]));
    });

    await check("unknown body field: 422 naming it", async () => {
      const { error, response } = await client.POST("/cluster/launch", {
        // Deliberately outside the schema, which the types (rightly) forbid.
        body: { foo: 1 } as LaunchBody,
      });
      assert.equal(response.status, 422);
      assert.ok(error?.errors["body.foo"]?.length, JSON.stringify(error?.errors));
    });
  } catch (err) {
    // After a timeout the failures are the service being stopped under us.
    if (timedOut) return;
    if (failed === 0) failed++;
    console.error(err);
    if (service) console.error(`skygate stderr (last lines):\n${service.stderr.join("").split("\n").slice(-20).join("\n")}`);
  }
}

const timeout = setTimeout(() => {
  timedOut = true;
  console.error(`smoke: timed out after ${RUN_TIMEOUT_MS / 1000} s`);
  console.log(`smoke: ${passed} passed, ${failed + 1} failed`);
  void cleanUp().finally(() => process.exit(1));
}, RUN_TIMEOUT_MS);

await run();
await cleanUp();
clearTimeout(timeout);
console.log(`smoke: ${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
