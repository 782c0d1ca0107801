// A TypeScript service that hands the producer its own ioredis client and its own Anthropic SDK client
// (the peer dependencies: one copy, the service's, whatever version of the tested range it runs).
// Compiles with the example's tsconfig (strict, nodenext, skipLibCheck false); at run time sends one
// request through the real-time path (a deadline too soon for a batch) with the service's SDK client.
import Anthropic from '@anthropic-ai/sdk';
import { createProducer, type Producer } from '@nightshift/producer';
import { Redis } from 'ioredis';

const connection = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const client = new Anthropic({
  apiKey: process.env.ANTHROPIC_API_KEY,
  baseURL: process.env.ANTHROPIC_BASE_URL,
});
const producer: Producer = createProducer({ connection, client, prefix: process.env.NIGHTSHIFT_PREFIX });

const result = await producer.enqueue({
  key: 'urgent-1',
  feature: 'own-clients',
  params: { model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'Hello.' }] },
  deadline: Date.now() + 60_000,
  realtime: 'fallback',
});
await producer.close();
await connection.quit(); // the producer never closes a connection it was given
console.log(JSON.stringify({ outcome: result.outcome, state: result.status.state }));
