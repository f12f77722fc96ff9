// Type test: compiled with `tsc --noEmit --strict` against the built package (dist/ through
// the package's "exports"), as an application would see it. It never runs. Each
// `@ts-expect-error` line must fail to compile; tsc reports any that does not.
import {
  createSkygateClient,
  streamEvents,
  type AnswerOf,
  type ClusterRecord,
  type ClusterStatus,
  type ErrorEnvelope,
  type FleetEvent,
  type SkygateEvent,
  type StatusResult,
} from "@skygate/client";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T>(_value: T): void {}

const baseUrl = "http://127.0.0.1:8080";
const client = createSkygateClient({ baseUrl, token: "t" });

export async function defaultCluster(): Promise<ClusterStatus> {
  const { data, error, response } = await client.GET("/cluster/status", { params: { query: { refresh: true } } });
  if (error) {
    // The error envelope, whole: result null, errors keyed by field or concern.
    expectType<"error">(error.status);
    expectType<null>(error.result);
    expectType<string[] | undefined>(error.errors["auth"]);
    const same: Equal<typeof error, ErrorEnvelope> = true;
    throw new Error(`${response.status} ${JSON.stringify(same && error.errors)}`);
  }
  // A success: result read without a null check, errors typed null.
  expectType<"success">(data.status);
  const errorsNull: Equal<typeof data.errors, null> = true;
  const resultExact: Equal<typeof data.result, StatusResult> = true;
  expectType<string | null>(data.result.ip);
  expectType<number | null>(data.result.launched_at);
  expectType<number>(data.meta.duration_ms);
  // @ts-expect-error a success envelope's status is never "error"
  if (data.status === "error") throw new Error("unreachable");
  // @ts-expect-error "runing" is not a ClusterStatus
  if (data.result.status === "runing") throw new Error("unreachable");
  // @ts-expect-error a field the document does not have
  expectType<unknown>(data.result.uptime);
  // @ts-expect-error result is never null after a success
  data.result = null;
  return errorsNull && resultExact ? data.result.status : "error";
}

export async function fleet(): Promise<string[]> {
  const list = await client.GET("/clusters", { params: { query: { refresh: false } } });
  if (!list.data) throw new Error(JSON.stringify(list.error.errors));
  const records: ClusterRecord[] = list.data.result;
  const defaults = records.filter((c) => c.default).map((c) => c.name);

  const launched = await client.POST("/clusters/{name}/launch", {
    params: { path: { name: "team-a" } },
    body: { cloud: "aws", region: null },
  });
  if (launched.data) expectType<string>(launched.data.result.cluster_name);
  else expectType<Record<string, string[]>>(launched.error.errors);

  const stopped = await client.POST("/clusters/{name}/stop", { params: { path: { name: "team-a" } } });
  const status = await client.GET("/clusters/{name}/status", { params: { path: { name: "team-a" } } });
  if (status.data) expectType<ClusterStatus>(status.data.result.status);

  // Per status code: the 202 of a launch is the accepted envelope, its 409 an ErrorEnvelope.
  const accepted: Equal<AnswerOf<"/clusters/{name}/launch", "post", 202>["result"]["cluster_name"], string> = true;
  const conflict: Equal<AnswerOf<"/clusters/{name}/launch", "post", 409>, ErrorEnvelope> = true;
  // @ts-expect-error 418 is not a status code the document lists for launch
  expectType<AnswerOf<"/clusters/{name}/launch", "post", 418>>(null!);

  // @ts-expect-error a route skygate does not have
  await client.POST("/clusters/{name}/restart", { params: { path: { name: "team-a" } } });
  // @ts-expect-error /clusters answers GET only
  await client.POST("/clusters");
  // @ts-expect-error the event streams are read with streamEvents, not as JSON
  await client.GET("/events");
  // @ts-expect-error a named route needs its name
  await client.GET("/clusters/{name}/status");
  // @ts-expect-error a field the launch body does not have
  await client.POST("/cluster/launch", { body: { cloud: "aws", zone: "a" } });
  // @ts-expect-error refresh is a boolean
  await client.GET("/clusters", { params: { query: { refresh: "yes" } } });

  return accepted && conflict && stopped.response.ok ? defaults : [];
}

export async function streams(signal: AbortSignal): Promise<void> {
  const seen: number[] = [];
  await streamEvents({
    baseUrl,
    signal,
    onEvent: (event: SkygateEvent) => {
      seen.push(event.id);
      if (event.event === "status") expectType<ClusterStatus>(event.data.status);
      // @ts-expect-error the default cluster's events do not name a cluster
      expectType<string>(event.data.cluster);
    },
  });

  await streamEvents({
    baseUrl,
    signal,
    path: "/clusters/{name}/events",
    name: "team-a",
    reconnect: { initialDelayMs: 250, maxDelayMs: 10_000 },
    onReconnect: ({ attempt, delayMs, error }) => console.log(attempt, delayMs, error),
    onError: (error) => console.error(error.message),
    onEvent: (event) => {
      expectType<string>(event.data.cluster);
      if (event.event === "status") expectType<ClusterStatus>(event.data.status);
      // @ts-expect-error a status event has a status, a progress event does not
      if (event.event === "progress") expectType<ClusterStatus>(event.data.status);
    },
  });

  const lastId = await streamEvents({
    baseUrl,
    signal,
    path: "/events",
    after: 0,
    reconnect: true,
    onEvent: (event: FleetEvent) => seen.push(event.id),
  });
  expectType<number | undefined>(lastId);

  // @ts-expect-error the named stream needs a name
  await streamEvents({ baseUrl, signal, path: "/clusters/{name}/events", onEvent: () => {} });
  // @ts-expect-error only the named stream takes a name
  await streamEvents({ baseUrl, signal, path: "/events", name: "team-a", onEvent: () => {} });
  // @ts-expect-error not an event stream
  await streamEvents({ baseUrl, signal, path: "/clusters", onEvent: () => {} });
  // @ts-expect-error "finished" is not an event name
  await streamEvents({ baseUrl, signal, onEvent: (event) => event.event === "finished" });
}
