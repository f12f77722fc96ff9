import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Schemas = components["schemas"];

/** Every JSON answer is one of these envelopes; `result` is null on errors. */
export type Meta = Schemas["Meta"];
export type ErrorEnvelope = Schemas["ErrorEnvelope"];
/** Messages keyed by field or concern: `body.cloud`, `cluster`, `sky`, `credentials`, `auth`. */
export type EnvelopeErrors = ErrorEnvelope["errors"];

export type StatusResult = Schemas["StatusResult"];
export type CheckResult = Schemas["CheckResult"];
export type AcceptedResult = Schemas["AcceptedResult"];
export type HealthResult = Schemas["HealthResult"];
export type LaunchBody = Schemas["LaunchBody"];
export type ClusterStatus = Schemas["ClusterStatus"];

export type ProgressEventData = Schemas["ProgressEventData"];
export type CompleteEventData = Schemas["CompleteEventData"];
export type ErrorEventData = Schemas["ErrorEventData"];
export type StatusEventData = Schemas["StatusEventData"];

export type SkygateClient = Client<paths>;

export interface SkygateClientOptions {
  /** Where skygate listens, e.g. `http://127.0.0.1:8080` (a path prefix is kept). */
  baseUrl: string;
  /** The bearer token skygate was started with, if any. */
  token?: string | undefined;
  /** A fetch to use instead of the global one (tests, proxies). */
  fetch?: typeof globalThis.fetch | undefined;
}

/** A typed client for every JSON route of skygate; see `streamEvents` for the event stream. */
export function createSkygateClient(options: SkygateClientOptions): SkygateClient {
  return createClient<paths>({
    baseUrl: options.baseUrl,
    headers: authHeaders(options.token),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

export function authHeaders(token: string | undefined): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}
