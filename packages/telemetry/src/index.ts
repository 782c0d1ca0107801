/**
 * Nightshift's metrics and traces. Each role process gets a prom-client registry with the Node
 * process metrics (`createRoleRegistry`, `startRoleTelemetry` from the environment), its Redis
 * round trip (`watchRedis`) and an optional `/metrics` server (`startMetricsServer`); the roles
 * register their own metrics on it. Spans go through `@opentelemetry/api` only: nothing is
 * traced unless the operator registers a tracer provider.
 */

export { type Listen, resolveListen } from './listen.js';
export {
  BATCH_SIZE_BUCKETS,
  BUCKETS,
  Counter,
  createRoleRegistry,
  defineCounter,
  defineGauge,
  defineHistogram,
  Gauge,
  Histogram,
  type Pingable,
  type RedisWatch,
  Registry,
  VERSION,
  watchRedis,
} from './metrics.js';
export { type RoleTelemetry, startRoleTelemetry } from './role.js';
export { type RoleContext, runRoleProcess, runServerProcess, type ServerContext } from './role-process.js';
export { type MetricsServer, type MetricsServerOptions, startMetricsServer } from './server.js';
export {
  ATTR,
  activeTraceparent,
  inSpan,
  linksTo,
  SPANS,
  type Span,
  SpanKind,
  type SpanStart,
  SpanStatusCode,
  traceparentOf,
  tracer,
} from './tracing.js';
