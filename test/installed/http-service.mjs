// A service that talks to the installed nightshift-api over HTTP with a token and receives its
// results as webhooks from the installed nightshift-webhooks, verified with verifyWebhook from
// @nightshift/webhooks/verify. Prints one JSON line.
import { createServer } from 'node:http';
import { ApiTokens, createRedis, Store, WebhookEndpoints } from '@nightshift/store';
import { verifyWebhook } from '@nightshift/webhooks/verify';

const { REDIS_URL, NIGHTSHIFT_PREFIX: prefix, API_URL } = process.env;
const redis = createRedis({ url: REDIS_URL }, 'client');
const store = new Store(redis, prefix);
const { token } = await new ApiTokens(store).create({
  name: 'installed-http',
  features: ['http-service'],
});
const received = new Map();
let secret = '';
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    try {
      const event = verifyWebhook(Buffer.concat(chunks), req.headers, secret);
      received.set(event.data.customId, event.data.text);
      res.statusCode = 204;
    } catch {
      res.statusCode = 400;
    }
    res.end();
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
({ secret } = await new WebhookEndpoints(store).register({
  name: 'installed-http',
  url: `http://127.0.0.1:${server.address().port}/hooks`,
  events: ['request.succeeded'],
}));
const call = (path, init = {}) =>
  fetch(`${API_URL}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  });
const requests = [0, 1, 2].map((i) => ({
  feature: 'http-service',
  key: `doc-${i}`,
  params: { model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: `doc ${i}` }] },
}));
const res = await call('/v1/requests', { method: 'POST', body: JSON.stringify({ requests }) });
const { results } = await res.json();
const until = Date.now() + 60_000;
while (received.size < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
const doc = await (await fetch(`${API_URL}/openapi.json`)).json();
console.log(
  JSON.stringify({
    status: res.status,
    enqueued: results.map((r) => r.customId).sort(),
    received: [...received.keys()].sort(),
    texts: [...received.values()].every((t) => typeof t === 'string' && t.length > 0),
    openapi: doc.openapi,
  }),
);
server.close();
await redis.quit();
