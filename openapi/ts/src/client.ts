import createClient, { type FetchOptions, type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Schemas = components["schemas"];

/** Describes the request an envelope answers. */
export type Meta = Schemas["Meta"];
/** Every error answer: `status: "error"`, `result: null`, at least one entry in `errors`. */
export type ErrorEnvelope = Schemas["ErrorEnvelope"];
/** Messages keyed by field or concern: `body.cloud`, `path.name`, `cluster`, `sky`, `credentials`, `auth`. */
export type EnvelopeErrors = ErrorEnvelope["errors"];

export type StatusResult = Schemas["StatusResult"];
export type ClusterRecord = Schemas["ClusterRecord"];
export type CheckResult = Schemas["CheckResult"];
export type AcceptedResult = Schemas["AcceptedResult"];
export type HealthResult = Schemas["HealthResult"];
export type LaunchBody = Schemas["LaunchBody"];
export type ClusterStatus = Schemas["ClusterStatus"];

export type ProgressEventData = Schemas["ProgressEventData"];
export type CompleteEventData = Schemas["CompleteEventData"];
export type ErrorEventData = Schemas["ErrorEventData"];
export type StatusEventData = Schemas["StatusEventData"];
export type FleetProgressEventData = Schemas["FleetProgressEventData"];
export type FleetCompleteEventData = Schemas["FleetCompleteEventData"];
export type FleetErrorEventData = Schemas["FleetErrorEventData"];
export type FleetStatusEventData = Schemas["FleetStatusEventData"];

/** The HTTP methods the document uses. */
export type HttpMethod = "get" | "post";

type OperationOf<Path extends keyof paths, Method extends HttpMethod> = paths[Path] extends {
  [M in Method]: infer Op;
}
  ? Op
  : never;
type ResponsesOf<Op> = Op extends { responses: infer R } ? R : never;
type JsonOf<Response> = Response extends { content: { "application/json": infer Body } } ? Body : never;
type SuccessCode = 200 | 201 | 202 | 203 | 204 | 206;

/** The status codes the document lists for `method path`. */
export type StatusCodeOf<Path extends keyof paths, Method extends HttpMethod> = keyof ResponsesOf<
  OperationOf<Path, Method>
> &
  number;

/** The JSON body skygate answers `method path` with, for one status code. */
export type AnswerOf<
  Path extends keyof paths,
  Method extends HttpMethod,
  Code extends StatusCodeOf<Path, Method>,
> = JsonOf<ResponsesOf<OperationOf<Path, Method>>[Code]>;

/** The body of a 2xx answer to `method path`: a success envelope, whose `result` is never null. */
export type SuccessOf<Path extends keyof paths, Method extends HttpMethod> = AnswerOf<
  Path,
  Method,
  Extract<StatusCodeOf<Path, Method>, SuccessCode>
>;

/** The body of any other documented answer to `method path`: an ErrorEnvelope. */
export type FailureOf<Path extends keyof paths, Method extends HttpMethod> = AnswerOf<
  Path,
  Method,
  Exclude<StatusCodeOf<Path, Method>, SuccessCode>
>;

/** The routes that answer `method` with JSON (the event streams are read with `streamEvents`). */
export type JsonPaths<Method extends HttpMethod> = {
  [Path in keyof paths]: [SuccessOf<Path, Method>] extends [never] ? never : Path;
}[keyof paths];

/**
 * What a call resolves to, as with openapi-fetch: `data` on a 2xx answer, `error` on any
 * other, and the Response either way.
 */
export type SkygateResponse<Path extends keyof paths, Method extends HttpMethod> =
  | { data: SuccessOf<Path, Method>; error?: never; response: Response }
  | { data?: never; error: FailureOf<Path, Method>; response: Response };

/** The options of one call: path and query parameters, the body, and fetch's own (signal, ...). */
export type RequestInitOf<Path extends keyof paths, Method extends HttpMethod> = Omit<
  FetchOptions<OperationOf<Path, Method>>,
  "parseAs"
>;

type RequiredKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? never : K }[keyof T];

// The options may be left out when the route has no required parameter or body.
type InitArgs<Path extends keyof paths, Method extends HttpMethod> =
  RequiredKeys<RequestInitOf<Path, Method>> extends never
    ? [init?: RequestInitOf<Path, Method>]
    : [init: RequestInitOf<Path, Method>];

type Call<Method extends HttpMethod> = <Path extends JsonPaths<Method>>(
  path: Path,
  ...init: InitArgs<Path, Method>
) => Promise<SkygateResponse<Path, Method>>;

/**
 * A typed client for every JSON route of skygate. It is an openapi-fetch client (same
 * calls, middleware and answers) seen through the document's own per-status-code types.
 */
export interface SkygateClient {
  GET: Call<"get">;
  POST: Call<"post">;
  use(...middleware: Middleware[]): void;
  eject(...middleware: Middleware[]): void;
}

export interface SkygateClientOptions {
  /** Where skygate listens, e.g. `http://127.0.0.1:8080` (a path prefix is kept). */
  baseUrl: string;
  /** The bearer token skygate was started with, if any. */
  token?: string | undefined;
  /** A fetch to use instead of the global one (tests, proxies). */
  fetch?: typeof globalThis.fetch | undefined;
}

/** A typed client for every JSON route of skygate; see `streamEvents` for the event streams. */
export function createSkygateClient(options: SkygateClientOptions): SkygateClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl,
    headers: authHeaders(options.token),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  // The object is openapi-fetch's; only its types differ. openapi-fetch 0.17 passes every
  // answer through its Readable<T> helper, which drops properties whose type is exactly
  // null (`errors` of a success envelope, `result` of an error envelope); SkygateClient
  // types the answers straight from the document instead.
  return client as unknown as SkygateClient;
}

export function authHeaders(token: string | undefined): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}
