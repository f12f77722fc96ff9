// The event streams are read with fetch rather than EventSource: fetch can send the
// Authorization header (EventSource cannot), exists in browsers and in Node 20
// (which has no global EventSource), and lets the reconnecting mode below choose its
// own backoff and stop for good on answers that no retry can change.
import { EventSourceParserStream } from "eventsource-parser/stream";
import { authHeaders, type EnvelopeErrors, type ErrorEnvelope } from "./client.js";
import type { paths } from "./schema.js";

/** The event stream routes: the default cluster's, one named cluster's, every cluster's. */
export type EventPath = "/cluster/events" | "/clusters/{name}/events" | "/events";

type StreamItem<Path extends EventPath> =
  paths[Path]["get"]["responses"][200]["content"]["text/event-stream"][number];

// Distributes over the stream's union, keeping each event name paired with its data.
type WithId<Item> = Item extends { event: infer Name; data: infer Data }
  ? { id: number; event: Name; data: Data }
  : never;

/** One event of the stream at `Path`, discriminated on `event`; ids grow across restarts. */
export type StreamEvent<Path extends EventPath = "/cluster/events"> = WithId<StreamItem<Path>>;

/** One event of `GET /cluster/events` (the default cluster). */
export type SkygateEvent = StreamEvent<"/cluster/events">;

/** One event of `GET /events` or `GET /clusters/{name}/events`: its data names its `cluster`. */
export type FleetEvent = StreamEvent<"/events">;

export type SkygateEventName = SkygateEvent["event"];

// A Record (not a list) so that a new event name in the schema fails type-checking here.
const eventNames: Record<StreamEvent<EventPath>["event"], true> = {
  progress: true,
  complete: true,
  error: true,
  status: true,
};

function isEventName(name: string): name is SkygateEventName {
  return Object.hasOwn(eventNames, name);
}

/** A non-2xx answer from skygate, with the `errors` of its ResultEnvelope. */
export class SkygateError extends Error {
  override readonly name = "SkygateError";

  constructor(
    readonly status: number,
    readonly errors: EnvelopeErrors,
    readonly envelope?: ErrorEnvelope,
    /** Seconds from a Retry-After header (503 when skygate holds too many streams). */
    readonly retryAfter?: number,
  ) {
    const detail = Object.entries(errors)
      .map(([key, messages]) => `${key}: ${messages.join("; ")}`)
      .join(", ");
    super(`skygate answered ${status}${detail ? ` (${detail})` : ""}`);
  }
}

/** The stream ended without an error: skygate closed it (shutdown, a client too slow). */
export class StreamClosedError extends Error {
  override readonly name = "StreamClosedError";
  constructor() {
    super("skygate closed the event stream");
  }
}

export interface ReconnectOptions {
  /** The delay before the first reconnect, in ms (default 500). */
  initialDelayMs?: number | undefined;
  /** No delay is longer, in ms (default 30 000), not even one a Retry-After asks for. */
  maxDelayMs?: number | undefined;
  /** How much the delay grows with each failed attempt in a row (default 2). */
  factor?: number | undefined;
  /** Give up after this many failed attempts in a row (default: never). */
  maxAttempts?: number | undefined;
  /** Random numbers in [0, 1) for the jitter (default Math.random; tests pass their own). */
  random?: (() => number) | undefined;
}

export interface ReconnectInfo {
  /** 1 for the first attempt after a connection ended; grows while attempts fail. */
  attempt: number;
  /** How long the stream waits before this attempt, in ms. */
  delayMs: number;
  /** Why the previous connection ended or could not open. */
  error: unknown;
  /** The id the attempt resumes after (sent as Last-Event-ID), if any event came yet. */
  lastEventId: number | undefined;
}

export interface StreamOpenInfo {
  /** False on the first connection, true on each reconnect. */
  reconnect: boolean;
}

interface StreamOptionsBase<Path extends EventPath> {
  baseUrl: string;
  token?: string | undefined;
  /** The stream to follow (default `/cluster/events`). */
  path?: Path | undefined;
  /** Resume after this id (Last-Event-ID): every kept event with a greater id is sent first. */
  lastEventId?: number | undefined;
  /** Start after this id on the first connection (`?after=`); 0 replays every kept event. */
  after?: number | undefined;
  /** Ends the stream; the returned promise then resolves. */
  signal: AbortSignal;
  /** Called each time skygate has accepted the subscription, before its events. */
  onOpen?: ((info: StreamOpenInfo) => void) | undefined;
  onEvent: (event: StreamEvent<Path>) => void;
  /**
   * Reconnect whenever the stream drops or cannot open, with exponential backoff and
   * jitter, resuming after the last id received; not after 4xx answers other than 408
   * and 429 (401, 403, 404, 422, ...), which go to `onError`.
   */
  reconnect?: boolean | ReconnectOptions | undefined;
  /** Called before each reconnect's wait. */
  onReconnect?: ((info: ReconnectInfo) => void) | undefined;
  /**
   * Called with the error that ends the stream (a SkygateError for an answer no retry can
   * change; without `reconnect`, any failure); the promise then resolves. Without it the
   * promise rejects with that error.
   */
  onError?: ((error: Error) => void) | undefined;
  fetch?: typeof globalThis.fetch | undefined;
}

/** The options of `streamEvents`; `name` is required for (and only for) `/clusters/{name}/events`. */
export type StreamEventsOptions<Path extends EventPath = "/cluster/events"> = StreamOptionsBase<Path> &
  (Path extends "/clusters/{name}/events" ? { name: string } : { name?: never });

/**
 * Follows one of skygate's event streams until `signal` aborts, or, without `reconnect`,
 * until skygate closes it. Resolves with the id of the last event seen (pass it as
 * `lastEventId` to resume). Rejects with whatever `onEvent` throws, and with the error
 * that ends the stream when there is no `onError` (see there).
 */
export async function streamEvents<Path extends EventPath = "/cluster/events">(
  typed: StreamEventsOptions<Path>,
): Promise<number | undefined> {
  // Inside, every route is handled alike; the caller's types stay per route.
  const options = typed as unknown as StreamEventsOptions<EventPath>;
  const { signal } = options;
  const url = streamUrl(options);
  const backoff = options.reconnect ? reconnectSettings(options.reconnect) : undefined;
  const state: StreamState = { lastId: options.lastEventId, heard: false };
  let attempt = 0;

  for (let opened = false; ; ) {
    let ended: unknown;
    state.heard = false;
    try {
      await connect(options, url, state, opened);
      opened = true;
      if (!backoff) return state.lastId;
      ended = new StreamClosedError();
    } catch (err) {
      if (err instanceof CallbackFailure) throw err.cause;
      if (signal.aborted) return state.lastId;
      if (err instanceof OpenedError) {
        opened = true;
        err = err.cause;
      }
      if (!backoff || isFinal(err)) return finish(options, err, state.lastId);
      ended = err;
    }
    if (signal.aborted) return state.lastId;
    // A connection that brought anything (an event, a keep-alive) was healthy: the
    // backoff starts over.
    attempt = state.heard ? 1 : attempt + 1;
    if (attempt > backoff.maxAttempts) return finish(options, ended, state.lastId);
    const delayMs = reconnectDelay(attempt, backoff, ended);
    options.onReconnect?.({ attempt, delayMs, error: ended, lastEventId: state.lastId });
    await sleep(delayMs, signal);
    if (signal.aborted) return state.lastId;
  }
}

interface StreamState {
  /** The last id received: the next connection's Last-Event-ID. */
  lastId: number | undefined;
  /** Whether the current connection brought anything from skygate. */
  heard: boolean;
}

/** Wraps what onEvent or onOpen threw, which ends the stream whatever the mode. */
class CallbackFailure {
  constructor(readonly cause: unknown) {}
}

/** Wraps an error of a connection that had opened (so later ones are reconnects). */
class OpenedError {
  constructor(readonly cause: unknown) {}
}

/** Ends the stream with err: to onError when there is one, else by rejecting. */
function finish(options: StreamOptionsBase<EventPath>, err: unknown, lastId: number | undefined): number | undefined {
  const error = err instanceof Error ? err : new Error(String(err));
  if (!options.onError) throw error;
  options.onError(error);
  return lastId;
}

function streamUrl(options: StreamEventsOptions<EventPath>): string {
  const path: EventPath = options.path ?? "/cluster/events";
  let route: string = path;
  if (path === "/clusters/{name}/events") {
    if (typeof options.name !== "string" || options.name === "") {
      throw new TypeError("streamEvents: /clusters/{name}/events needs a name");
    }
    route = `/clusters/${encodeURIComponent(options.name)}/events`;
  }
  const url = `${options.baseUrl.replace(/\/+$/, "")}${route}`;
  if (options.after === undefined) return url;
  if (!Number.isSafeInteger(options.after) || options.after < 0) {
    throw new TypeError(`streamEvents: after must be a whole number, not ${options.after}`);
  }
  return `${url}?after=${options.after}`;
}

/** One connection: resolves when skygate ends the stream, rejects on any failure. */
async function connect(
  options: StreamEventsOptions<EventPath>,
  url: string,
  state: StreamState,
  reconnect: boolean,
): Promise<void> {
  const { signal } = options;
  const headers: Record<string, string> = {
    Accept: "text/event-stream",
    ...authHeaders(options.token),
  };
  // Last-Event-ID wins over ?after= at skygate, so a reconnect resumes where it left off.
  if (state.lastId !== undefined) headers["Last-Event-ID"] = String(state.lastId);

  const response = await (options.fetch ?? globalThis.fetch)(url, { headers, signal, cache: "no-store" });
  if (!response.ok) throw await errorFromResponse(response);
  if (!response.body) throw new Error("skygate sent an event stream without a body");
  try {
    options.onOpen?.({ reconnect });
  } catch (err) {
    await response.body.cancel().catch(() => {});
    throw new CallbackFailure(err);
  }

  const reader = response.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(
      new EventSourceParserStream({
        onError: "terminate",
        onComment: () => {
          state.heard = true;
        },
      }),
    )
    .getReader();
  try {
    for (;;) {
      const { done, value: message } = await reader.read();
      if (done) return;
      state.heard = true;
      if (message.event === undefined || !isEventName(message.event)) continue;
      const id = Number(message.id);
      if (message.id === undefined || message.id === "" || !Number.isSafeInteger(id)) {
        throw new ProtocolError(`skygate sent a ${message.event} event without a numeric id`);
      }
      // skygate sends each id once and in order; this guards a resumed stream anyway.
      if (state.lastId !== undefined && id <= state.lastId) continue;
      let data: unknown;
      try {
        data = JSON.parse(message.data);
      } catch {
        throw new ProtocolError(`skygate sent event ${id} with data that is not JSON`);
      }
      state.lastId = id;
      try {
        // The union cannot be narrowed from a runtime string without a cast; the
        // name is checked above and the data shape is skygate's contract.
        options.onEvent({ id, event: message.event, data } as StreamEvent<EventPath>);
      } catch (err) {
        throw new CallbackFailure(err);
      }
    }
  } catch (err) {
    if (err instanceof CallbackFailure) throw err;
    throw new OpenedError(err);
  } finally {
    // Frees the connection when onEvent threw or the stream was malformed;
    // a no-op once the stream has ended.
    reader.cancel().catch(() => {});
  }
}

/** A stream skygate would send again the same way: retrying cannot help. */
class ProtocolError extends Error {
  override readonly name = "ProtocolError";
}

/** Answers no retry can change: a bad token, a refused origin, a wrong route or name, ... */
function isFinal(err: unknown): boolean {
  if (err instanceof ProtocolError) return true;
  if (!(err instanceof SkygateError)) return false;
  return err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429;
}

interface Backoff {
  initialDelayMs: number;
  maxDelayMs: number;
  factor: number;
  maxAttempts: number;
  random: () => number;
}

function reconnectSettings(option: true | ReconnectOptions): Backoff {
  const o = option === true ? {} : option;
  const positive = (v: number | undefined, fallback: number) =>
    v !== undefined && Number.isFinite(v) && v >= 0 ? v : fallback;
  const maxDelayMs = positive(o.maxDelayMs, 30_000);
  return {
    initialDelayMs: Math.min(positive(o.initialDelayMs, 500), maxDelayMs),
    maxDelayMs,
    factor: Math.max(1, positive(o.factor, 2)),
    maxAttempts: o.maxAttempts !== undefined && o.maxAttempts >= 0 ? o.maxAttempts : Infinity,
    random: o.random ?? Math.random,
  };
}

/**
 * The wait before attempt n: initialDelay * factor^(n-1), at most maxDelay, of which a
 * random half is dropped ("equal jitter": between half and all of it), so clients that
 * dropped together do not come back together. A Retry-After asks for at least that long,
 * within maxDelay.
 */
function reconnectDelay(attempt: number, b: Backoff, cause: unknown): number {
  const ceiling = Math.min(b.maxDelayMs, b.initialDelayMs * b.factor ** (attempt - 1));
  let delay = ceiling / 2 + (ceiling / 2) * b.random();
  if (cause instanceof SkygateError && cause.retryAfter !== undefined) {
    delay = Math.max(delay, Math.min(b.maxDelayMs, cause.retryAfter * 1000));
  }
  return Math.round(delay);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

async function errorFromResponse(response: Response): Promise<SkygateError> {
  const text = await response.text().catch(() => "");
  const retryAfter = Number(response.headers.get("Retry-After") ?? NaN);
  const wait = Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined;
  try {
    const envelope = JSON.parse(text) as ErrorEnvelope;
    if (envelope && typeof envelope.errors === "object" && envelope.errors !== null) {
      return new SkygateError(response.status, envelope.errors, envelope, wait);
    }
  } catch {
    // Not an envelope (e.g. a proxy's page): report the status and the text below.
  }
  return new SkygateError(
    response.status,
    { http: [text.slice(0, 200) || response.statusText] },
    undefined,
    wait,
  );
}
