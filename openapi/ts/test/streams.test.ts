// Unit tests of streamEvents against a local HTTP server that speaks skygate's stream:
// Last-Event-ID (winning over ?after=), ids in order, connections dropped on purpose.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import {
  SkygateError,
  StreamClosedError,
  streamEvents,
  type FleetEvent,
  type ReconnectInfo,
  type SkygateEvent,
} from "@skygate/client";

interface Logged {
  url: string;
  lastEventId: string | undefined;
  authorization: string | undefined;
}

interface Fake {
  baseUrl: string;
  requests: Logged[];
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

const servers: Fake[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function serve(handler: Handler): Promise<Fake> {
  const requests: Logged[] = [];
  const server = createServer((req, res) => {
    const header = req.headers["last-event-id"];
    requests.push({
      url: req.url ?? "",
      lastEventId: Array.isArray(header) ? header[0] : header,
      authorization: req.headers.authorization,
    });
    handler(req, res, requests.length);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const fake: Fake = {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(fake);
  return fake;
}

interface LogEvent {
  id: number;
  event: "progress" | "complete" | "error" | "status";
  data: Record<string, unknown>;
}

// Ids as skygate gives them to one cluster's stream: increasing, with gaps (the ids are
// global across the fleet).
function eventLog(count: number, cluster?: string): LogEvent[] {
  const events: LogEvent[] = [];
  for (let i = 0, id = 3; i < count; i++, id += 1 + (i % 3)) {
    const base = { timestamp: new Date(1_760_000_000_000 + id * 1000).toISOString(), message: `line ${id}` };
    const data = cluster === undefined ? base : { ...base, cluster };
    if (i === count - 1) events.push({ id, event: "complete", data: { ...data, type: "complete" } });
    else if (i % 5 === 0) events.push({ id, event: "status", data: { ...data, type: "status", status: "provisioning" } });
    else events.push({ id, event: "progress", data: { ...data, type: "progress" } });
  }
  return events;
}

function frame(e: LogEvent): string {
  return `id: ${e.id}\nevent: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`;
}

/** Where a request asks to start: Last-Event-ID wins over ?after=, as at skygate. */
function resumeAfter(req: IncomingMessage): number | undefined {
  const header = req.headers["last-event-id"];
  const query = new URL(req.url ?? "/", "http://x").searchParams.get("after");
  for (const v of [Array.isArray(header) ? header[0] : header, query ?? undefined]) {
    if (v !== undefined && /^[0-9]+$/.test(v)) return Number(v);
  }
  return undefined;
}

// skygate ends its streams by closing the connection (no length, no chunks), so a drop
// reads as the end of the body; behind a proxy that chunks, a drop is a read error.
// `chunked` gives the latter.
function openStream(res: ServerResponse, chunked = false): void {
  const headers: Record<string, string> = { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" };
  if (!chunked) headers["Connection"] = "close";
  res.writeHead(200, headers);
  res.flushHeaders();
}

function envelope(res: ServerResponse, status: number, errors: Record<string, string[]>, headers = {}): void {
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end(
    JSON.stringify({
      status: "error",
      result: null,
      errors,
      meta: { path: "/cluster/events", timestamp: new Date().toISOString(), duration_ms: 0.1 },
    }),
  );
}

// Each way a connection can break: after a whole frame, inside the id line, inside the
// data line, between a frame's last line and its blank line, and after a keep-alive only.
const cuts: ((next: LogEvent | undefined) => string)[] = [
  () => "",
  (next) => (next ? `id: ${String(next.id).slice(0, 1)}` : ""),
  (next) => (next ? frame(next).slice(0, frame(next).indexOf("data: ") + 12) : ""),
  (next) => (next ? frame(next).slice(0, -1) : ""),
  () => ": keep-alive\n\n",
];

const fastReconnect = { initialDelayMs: 4, maxDelayMs: 40 };

describe("streamEvents reconnects", () => {
  test("a stream dropped mid-event, again and again, gives every id once, in order", async () => {
    const log = eventLog(40);
    const perConnection = 3;
    const fake = await serve((req, res, n) => {
      openStream(res, n % 2 === 0);
      const from = resumeAfter(req);
      const rest = log.filter((e) => from === undefined || e.id > from);
      const batch = rest.slice(0, perConnection);
      res.write(batch.map(frame).join(""));
      if (rest.length <= perConnection) return; // the last connection stays open
      // Let the frames leave before the cut, so the client gets them, then break off.
      res.write(cuts[n % cuts.length]!(rest[perConnection]), () => setTimeout(() => res.destroy(), 5));
    });

    const controller = new AbortController();
    const got: SkygateEvent[] = [];
    const reconnects: ReconnectInfo[] = [];
    const opens: boolean[] = [];
    const lastId = await streamEvents({
      baseUrl: fake.baseUrl,
      token: "t0k",
      signal: controller.signal,
      reconnect: fastReconnect,
      onOpen: ({ reconnect }) => opens.push(reconnect),
      onReconnect: (info) => reconnects.push(info),
      onEvent: (event) => {
        got.push(event);
        if (event.event === "complete") controller.abort();
      },
    });

    assert.deepEqual(
      got.map((e) => e.id),
      log.map((e) => e.id),
    );
    assert.deepEqual(got, log, "every event arrives whole, its data parsed");
    assert.equal(lastId, log.at(-1)!.id);
    const connections = Math.ceil(log.length / perConnection);
    assert.equal(fake.requests.length, connections);
    assert.equal(reconnects.length, connections - 1);
    assert.deepEqual(opens, [false, ...Array<boolean>(connections - 1).fill(true)]);
    // Each reconnect resumes after the last id received, and says so.
    assert.equal(fake.requests[0]!.lastEventId, undefined);
    for (let i = 1; i < connections; i++) {
      const want = log[i * perConnection - 1]!.id;
      assert.equal(fake.requests[i]!.lastEventId, String(want), `request ${i}`);
      assert.equal(reconnects[i - 1]!.lastEventId, want);
      // Every connection brought something, so each wait is a first attempt's.
      assert.equal(reconnects[i - 1]!.attempt, 1);
      assert.ok(reconnects[i - 1]!.delayMs >= 2 && reconnects[i - 1]!.delayMs <= 4, `delay ${reconnects[i - 1]!.delayMs}`);
    }
    // Both ways a drop shows: the end of a close-delimited body, a read error in a chunked one.
    assert.ok(reconnects.some((r) => r.error instanceof StreamClosedError));
    assert.ok(reconnects.some((r) => r.error instanceof TypeError));
    assert.ok(fake.requests.every((r) => r.authorization === "Bearer t0k"));
  });

  test("after: 0 replays the kept log on the first connection; reconnects resume with Last-Event-ID", async () => {
    const log = eventLog(12, "team-a");
    const fake = await serve((req, res, n) => {
      openStream(res);
      const from = resumeAfter(req);
      if (from === undefined) {
        // Without an id skygate sends only the operation in flight: here, the last event.
        res.write(frame(log.at(-1)!));
        return;
      }
      const rest = log.filter((e) => e.id > from);
      res.write(rest.slice(0, 5).map(frame).join(""));
      if (n < 3) res.write("", () => setTimeout(() => res.destroy(), 5));
    });

    const controller = new AbortController();
    const got: FleetEvent[] = [];
    await streamEvents({
      baseUrl: fake.baseUrl,
      path: "/clusters/{name}/events",
      name: "team-a",
      after: 0,
      signal: controller.signal,
      reconnect: fastReconnect,
      onEvent: (event) => {
        got.push(event);
        if (event.event === "complete") controller.abort();
      },
    });

    assert.deepEqual(
      got.map((e) => e.id),
      log.map((e) => e.id),
    );
    assert.ok(got.every((e) => e.data.cluster === "team-a"));
    assert.equal(fake.requests[0]!.url, "/clusters/team-a/events?after=0");
    assert.equal(fake.requests[0]!.lastEventId, undefined);
    assert.equal(fake.requests[1]!.lastEventId, String(log[4]!.id));
    assert.equal(fake.requests[2]!.lastEventId, String(log[9]!.id));
  });

  test("an event sent again after a reconnect is not passed on twice", async () => {
    const log = eventLog(6);
    const fake = await serve((req, res, n) => {
      openStream(res);
      const from = resumeAfter(req) ?? 0;
      // A misbehaving proxy: the reconnect starts one event early.
      const rest = log.filter((e) => e.id >= from);
      res.write((n === 1 ? rest.slice(0, 3) : rest).map(frame).join(""));
      if (n === 1) res.write("", () => setTimeout(() => res.destroy(), 5));
    });
    const controller = new AbortController();
    const ids: number[] = [];
    await streamEvents({
      baseUrl: fake.baseUrl,
      signal: controller.signal,
      reconnect: fastReconnect,
      onEvent: (event) => {
        ids.push(event.id);
        if (event.event === "complete") controller.abort();
      },
    });
    assert.deepEqual(
      ids,
      log.map((e) => e.id),
    );
  });

  test("connections that bring nothing back off exponentially, with jitter, within the bound", async () => {
    const fake = await serve((_req, res) => envelope(res, 500, { server: ["internal error"] }));
    for (const [jitter, want] of [
      [0, [5, 10, 20, 40, 40, 40]],
      [0.999_999, [10, 20, 40, 80, 80, 80]],
    ] as const) {
      const reconnects: ReconnectInfo[] = [];
      const errors: Error[] = [];
      const before = fake.requests.length;
      const lastId = await streamEvents({
        baseUrl: fake.baseUrl,
        signal: new AbortController().signal,
        reconnect: { initialDelayMs: 10, maxDelayMs: 80, factor: 2, maxAttempts: 6, random: () => jitter },
        onReconnect: (info) => reconnects.push(info),
        onError: (error) => errors.push(error),
        onEvent: () => assert.fail("no event expected"),
      });
      assert.equal(lastId, undefined);
      assert.deepEqual(
        reconnects.map((r) => r.attempt),
        [1, 2, 3, 4, 5, 6],
      );
      assert.deepEqual(
        reconnects.map((r) => r.delayMs),
        want,
      );
      assert.ok(reconnects.every((r) => r.error instanceof SkygateError && r.error.status === 500));
      // The seventh failure in a row ends the stream.
      assert.equal(fake.requests.length - before, 7);
      assert.equal(errors.length, 1);
      assert.ok(errors[0] instanceof SkygateError && errors[0].status === 500);
    }
  });

  test("streams accepted and dropped at once back off as failures; one that brought events starts over", async () => {
    const log = eventLog(4);
    const fake = await serve((_req, res, n) => {
      openStream(res);
      if (n <= 3) {
        res.destroy();
        return;
      }
      if (n === 4) {
        res.write(log.slice(0, 2).map(frame).join(""), () => setTimeout(() => res.destroy(), 5));
        return;
      }
      res.write(log.slice(2).map(frame).join(""));
    });
    const controller = new AbortController();
    const reconnects: ReconnectInfo[] = [];
    const ids: number[] = [];
    await streamEvents({
      baseUrl: fake.baseUrl,
      signal: controller.signal,
      reconnect: { initialDelayMs: 4, maxDelayMs: 64, random: () => 0 },
      onReconnect: (info) => reconnects.push(info),
      onEvent: (event) => {
        ids.push(event.id);
        if (event.event === "complete") controller.abort();
      },
    });
    assert.deepEqual(
      ids,
      log.map((e) => e.id),
    );
    assert.deepEqual(
      reconnects.map((r) => [r.attempt, r.delayMs]),
      [
        [1, 2],
        [2, 4],
        [3, 8],
        [1, 2],
      ],
    );
  });

  test("a stream skygate closes is reopened, and the reconnect says why", async () => {
    const log = eventLog(4);
    const fake = await serve((req, res, n) => {
      openStream(res);
      const from = resumeAfter(req) ?? 0;
      const rest = log.filter((e) => e.id > from);
      if (n === 1) res.end(rest.slice(0, 2).map(frame).join(""));
      else res.write(rest.map(frame).join(""));
    });
    const controller = new AbortController();
    const reconnects: ReconnectInfo[] = [];
    const ids: number[] = [];
    await streamEvents({
      baseUrl: fake.baseUrl,
      signal: controller.signal,
      reconnect: fastReconnect,
      onReconnect: (info) => reconnects.push(info),
      onEvent: (event) => {
        ids.push(event.id);
        if (event.event === "complete") controller.abort();
      },
    });
    assert.deepEqual(
      ids,
      log.map((e) => e.id),
    );
    assert.equal(reconnects.length, 1);
    assert.ok(reconnects[0]!.error instanceof StreamClosedError);
  });

  test("a 503 with Retry-After waits at least that long, within maxDelayMs; abort ends the wait", async () => {
    const fake = await serve((_req, res) => envelope(res, 503, { server: ["too many event streams"] }, { "Retry-After": "2" }));
    for (const [maxDelayMs, want] of [
      [60_000, 2000],
      [1500, 1500],
    ] as const) {
      const controller = new AbortController();
      const reconnects: ReconnectInfo[] = [];
      const started = performance.now();
      const lastId = await streamEvents({
        baseUrl: fake.baseUrl,
        signal: controller.signal,
        reconnect: { initialDelayMs: 10, maxDelayMs, random: () => 0 },
        onReconnect: (info) => {
          reconnects.push(info);
          setTimeout(() => controller.abort(), 10);
        },
        onEvent: () => assert.fail("no event expected"),
      });
      assert.equal(lastId, undefined);
      assert.equal(reconnects.length, 1);
      assert.equal(reconnects[0]!.delayMs, want);
      assert.ok(reconnects[0]!.error instanceof SkygateError && reconnects[0]!.error.retryAfter === 2);
      assert.ok(performance.now() - started < 1000, "abort did not end the wait");
    }
  });

  test("a service that is not listening is retried until abort", async () => {
    const fake = await serve(() => {});
    await fake.close();
    const controller = new AbortController();
    const reconnects: ReconnectInfo[] = [];
    const lastId = await streamEvents({
      baseUrl: fake.baseUrl,
      signal: controller.signal,
      reconnect: fastReconnect,
      onReconnect: (info) => {
        reconnects.push(info);
        if (reconnects.length === 3) controller.abort();
      },
      onEvent: () => assert.fail("no event expected"),
    });
    assert.equal(lastId, undefined);
    assert.deepEqual(
      reconnects.map((r) => r.attempt),
      [1, 2, 3],
    );
    assert.ok(reconnects.every((r) => r.error instanceof TypeError), String(reconnects[0]?.error));
  });
});

describe("streamEvents stops for good", () => {
  for (const [status, key] of [
    [401, "auth"],
    [403, "origin"],
    [404, "route"],
    [422, "header.Last-Event-ID"],
  ] as const) {
    test(`on a ${status}: onError once, no reconnect`, async () => {
      const fake = await serve((_req, res) => envelope(res, status, { [key]: ["refused"] }));
      const errors: Error[] = [];
      const reconnects: ReconnectInfo[] = [];
      const lastId = await streamEvents({
        baseUrl: fake.baseUrl,
        path: "/events",
        lastEventId: 41,
        signal: new AbortController().signal,
        reconnect: fastReconnect,
        onReconnect: (info) => reconnects.push(info),
        onError: (error) => errors.push(error),
        onEvent: () => assert.fail("no event expected"),
      });
      assert.equal(lastId, 41);
      assert.equal(fake.requests.length, 1);
      assert.equal(fake.requests[0]!.lastEventId, "41");
      assert.equal(reconnects.length, 0);
      assert.equal(errors.length, 1);
      const error = errors[0];
      assert.ok(error instanceof SkygateError, String(error));
      assert.equal(error.status, status);
      assert.deepEqual(error.errors, { [key]: ["refused"] });
      assert.equal(error.envelope?.result, null);
    });
  }

  test("without onError the promise rejects with the SkygateError", async () => {
    const fake = await serve((_req, res) => envelope(res, 401, { auth: ["missing bearer token"] }));
    await assert.rejects(
      streamEvents({ baseUrl: fake.baseUrl, signal: new AbortController().signal, reconnect: true, onEvent: () => {} }),
      (err: unknown) => err instanceof SkygateError && err.status === 401 && err.errors["auth"]?.[0] === "missing bearer token",
    );
    assert.equal(fake.requests.length, 1);
  });

  test("what onEvent throws rejects the promise and is not retried", async () => {
    const log = eventLog(3);
    const fake = await serve((_req, res) => {
      openStream(res);
      res.write(log.map(frame).join(""));
    });
    const boom = new Error("boom");
    await assert.rejects(
      streamEvents({
        baseUrl: fake.baseUrl,
        signal: new AbortController().signal,
        reconnect: fastReconnect,
        onError: () => assert.fail("onError is for the stream's failures"),
        onEvent: () => {
          throw boom;
        },
      }),
      (err: unknown) => err === boom,
    );
    assert.equal(fake.requests.length, 1);
  });

  test("without reconnect, a dropped stream rejects and a closed one resolves with the last id", async () => {
    const log = eventLog(3);
    const fake = await serve((_req, res, n) => {
      openStream(res, n === 1);
      if (n === 1) res.write(frame(log[0]!), () => setTimeout(() => res.destroy(), 5));
      else res.end(log.map(frame).join(""));
    });
    const ids: number[] = [];
    await assert.rejects(
      streamEvents({ baseUrl: fake.baseUrl, signal: new AbortController().signal, onEvent: (e) => ids.push(e.id) }),
      TypeError,
    );
    const lastId = await streamEvents({
      baseUrl: fake.baseUrl,
      path: "/events",
      signal: new AbortController().signal,
      onEvent: (e) => ids.push(e.id),
    });
    assert.equal(lastId, log.at(-1)!.id);
    assert.deepEqual(ids, [log[0]!.id, ...log.map((e) => e.id)]);
    assert.equal(fake.requests[1]!.url, "/events");
  });

  test("a name is put in the path encoded; a missing one is refused before any request", async () => {
    const fake = await serve((_req, res) => envelope(res, 422, { "path.name": ["bad name"] }));
    const errors: Error[] = [];
    await streamEvents({
      baseUrl: `${fake.baseUrl}/`,
      path: "/clusters/{name}/events",
      name: "a b/c",
      signal: new AbortController().signal,
      onError: (error) => errors.push(error),
      onEvent: () => {},
    });
    assert.equal(fake.requests[0]!.url, "/clusters/a%20b%2Fc/events");
    assert.ok(errors[0] instanceof SkygateError && errors[0].status === 422);
    await assert.rejects(
      // Deliberately wrong, as plain JavaScript could call it.
      streamEvents({ baseUrl: fake.baseUrl, path: "/clusters/{name}/events", signal: new AbortController().signal, onEvent: () => {} } as never),
      TypeError,
    );
    assert.equal(fake.requests.length, 1);
  });
});
