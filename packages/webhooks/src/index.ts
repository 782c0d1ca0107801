/**
 * `@nightshift/webhooks`: signed webhooks of request, batch and drain events (`nightshift-webhooks`),
 * and `verifyWebhook()` for Node receivers (also alone as `@nightshift/webhooks/verify`).
 */
export type { DeliveryJobData } from '@nightshift/shared';
export { isPrivateAddress } from './http.js';
export { type WebhooksOptions, webhooksOptionsFromEnv } from './options.js';
export { cutUtf8 } from './payload.js';
export { verifyWebhook, type WebhookHeaders, WebhookVerificationError } from './verify.js';
export { startWebhooks, type Webhooks } from './webhooks.js';
