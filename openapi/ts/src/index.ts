export {
  createSkygateClient,
  type AcceptedResult,
  type CheckResult,
  type ClusterStatus,
  type CompleteEventData,
  type EnvelopeErrors,
  type ErrorEnvelope,
  type ErrorEventData,
  type HealthResult,
  type LaunchBody,
  type Meta,
  type ProgressEventData,
  type SkygateClient,
  type SkygateClientOptions,
  type StatusEventData,
  type StatusResult,
} from "./client.js";
export {
  SkygateError,
  streamEvents,
  type SkygateEvent,
  type SkygateEventName,
  type StreamEventsOptions,
} from "./events.js";
export type { components, paths } from "./schema.js";
