// The event stream is read with fetch rather than EventSource: fetch can send the
// Authorization header (EventSource cannot), exists in browsers and in Node 20
// (which has no global EventSource), and leaves reconnecting to the caller, who
// knows the last id and whether to go on.
import { EventSourceParserStream } from "eventsource-parser/stream";
import { authHeaders, type EnvelopeErrors, type ErrorEnvelope } from "./client.js";
import type { paths } from "./schema.js";

type StreamItem =
  paths["/cluster/events"]["get"]["responses"][200]["content"]["text/event-stream"][number];

// Distributes over the stream's union, keeping each event name paired with its data.
type WithId<Item> = Item extends { event: infer Name; data: infer Data }
  ? { id: number; event: Name; data: Data }
  : never;

/** One event of `GET /cluster/events`, discriminated on `event`; `id` grows across restarts. */
export type SkygateEvent = WithId<StreamItem>;

export type SkygateEventName = SkygateEvent["event"];

// A Record (not a list) so that a new event name in the schema fails type-checking here.
const eventNames: Record<SkygateEventName, true> = {
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
  ) {
    const detail = Object.entries(errors)
      .map(([key, messages]) => `${key}: ${messages.join("; ")}`)
      .join(", ");
    super(`skygate answered ${status}${detail ? ` (${detail})` : ""}`);
  }
}

export interface StreamEventsOptions {
  baseUrl: string;
  token?: string | undefined;
  /** Resume after this id: every kept event with a greater id is sent first. */
  lastEventId?: number | undefined;
  /** Ends the stream; the returned promise then resolves. */
  signal: AbortSignal;
  /** Called once skygate has accepted the subscription, before any event. */
  onOpen?: (() => void) | undefined;
  onEvent: (event: SkygateEvent) => void;
  fetch?: typeof globalThis.fetch | undefined;
}

/**
 * Follows the cluster's events until `signal` aborts or skygate closes the stream.
 * Resolves with the id of the last event seen (pass it as `lastEventId` to resume);
 * rejects with a SkygateError on a non-2xx answer, or with whatever `onEvent` throws.
 */
export async function streamEvents(options: StreamEventsOptions): Promise<number | undefined> {
  const { signal, onEvent } = options;
  const doFetch = options.fetch ?? globalThis.fetch;
  let lastId = options.lastEventId;

  const headers: Record<string, string> = {
    Accept: "text/event-stream",
    ...authHeaders(options.token),
  };
  if (lastId !== undefined) headers["Last-Event-ID"] = String(lastId);

  let response: Response;
  try {
    response = await doFetch(`${options.baseUrl.replace(/\/+$/, "")}/cluster/events`, {
      headers,
      signal,
      cache: "no-store",
    });
  } catch (err) {
    if (signal.aborted) return lastId;
    throw err;
  }

  if (!response.ok) throw await errorFromResponse(response);
  if (!response.body) throw new Error("skygate sent an event stream without a body");
  options.onOpen?.();

  const reader = response.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream({ onError: "terminate" }))
    .getReader();
  try {
    for (;;) {
      const { done, value: message } = await reader.read();
      if (done) return lastId;
      if (message.event === undefined || !isEventName(message.event)) continue;
      const id = Number(message.id);
      if (message.id === undefined || !Number.isSafeInteger(id)) {
        throw new Error(`skygate sent a ${message.event} event without a numeric id`);
      }
      lastId = id;
      // The union cannot be narrowed from a runtime string without a cast; the
      // name is checked above and the data shape is skygate's contract.
      onEvent({ id, event: message.event, data: JSON.parse(message.data) } as SkygateEvent);
    }
  } catch (err) {
    if (signal.aborted) return lastId;
    throw err;
  } finally {
    // Frees the connection when onEvent threw or the stream was malformed;
    // a no-op once the stream has ended.
    reader.cancel().catch(() => {});
  }
}

async function errorFromResponse(response: Response): Promise<SkygateError> {
  const text = await response.text().catch(() => "");
  try {
    const envelope = JSON.parse(text) as ErrorEnvelope;
    if (envelope && typeof envelope.errors === "object" && envelope.errors !== null) {
      return new SkygateError(response.status, envelope.errors, envelope);
    }
  } catch {
    // Not an envelope (e.g. a proxy's page): report the status and the text below.
  }
  return new SkygateError(response.status, { http: [text.slice(0, 200) || response.statusText] });
}
