/**
 * `@nightshift/api`: the HTTP enqueue API (`nightshift-api`), for services in any language.
 */
export { createApi } from './api.js';
export { type ApiErrorCode, ERROR_CODES } from './errors.js';
export { openApiDocument } from './openapi.js';
export { type Api, type ApiOptions, apiOptionsFromEnv } from './options.js';
export { requireLoopback } from './security.js';
