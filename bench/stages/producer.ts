/** Stage child: `enqueueMany` of n ~1 KB requests through the producer (timed: the call alone). */
import { createProducer } from '@nightshift/producer';
import { createRedis } from '@nightshift/store';
import { benchRequests } from '../lib/payloads.js';
import { meter, type RedisStageArgs, result, rssMB, runChild, stageArgs } from './common.js';
import { benchLogger } from './logger.js';

runChild(async () => {
  const a = stageArgs<RedisStageArgs>();
  const requests = benchRequests(a.n);
  const redis = createRedis({ url: a.redisUrl }, 'client');
  await redis.ping();
  const producer = createProducer({ connection: redis, prefix: a.prefix, logger: benchLogger('producer') });
  const rssBeforeMB = rssMB();
  const startedAt = Date.now();
  const m = meter();
  const out = await producer.enqueueMany(requests);
  const measured = m.stop();
  const endedAt = Date.now();
  const queued = out.filter((r) => r.outcome === 'queued').length;
  if (queued !== a.n) throw new Error(`producer: ${queued} of ${a.n} requests queued`);
  await producer.close();
  await redis.quit();
  result({ stage: 'producer', n: a.n, ...measured, startedAt, endedAt, rssBeforeMB });
});
