/**
 * `@nightshift/board`: the ops board. Bull Board under `/queues`, an overview at `/` (waiting
 * requests, batches in flight, liveness, alerts, dead letters, cost and savings), JSON under
 * `/api`, Prometheus text at `/metrics`, `/healthz` for probes. Secure by default: loopback only
 * unless credentials are configured, read-only mode, CSRF-protected POST actions, strict headers.
 */
export { createBoard } from './board.js';
export {
  type BasicAuth,
  type Board,
  type BoardOptions,
  boardOptionsFromConfig,
  type TokenAuth,
} from './options.js';
/** The board's DNS-rebinding guard (Express, 421), on the Host rule the HTTP API shares (`hostGuard`). */
export { hostCheck } from './security.js';
