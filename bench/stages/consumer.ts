/**
 * Stage child (end to end): the service's result consumer, `createResultWorker`, with a handler that
 * reads each result's text. Reports when the n-th result reached the handler.
 */
import { createResultWorker } from '@nightshift/producer';
import { createRedis } from '@nightshift/store';
import { type RedisStageArgs, ready, result, rssMB, runChild, stageArgs } from './common.js';
import { benchLogger } from './logger.js';

interface Args extends RedisStageArgs {
  concurrency: number;
}

runChild(async () => {
  const a = stageArgs<Args>();
  const connection = createRedis({ url: a.redisUrl }, 'client');
  await connection.ping();
  let count = 0;
  let chars = 0;
  let firstAt = 0;
  let lastAt = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const consumer = createResultWorker({
    connection,
    prefix: a.prefix,
    concurrency: a.concurrency,
    logger: benchLogger('result-worker'),
    handler: (r) => {
      chars += r.text.length;
      if (++count === 1) firstAt = Date.now();
      if (count === a.n) {
        lastAt = Date.now();
        finish();
      }
    },
  });
  await consumer.worker.waitUntilReady();
  const rssBeforeMB = rssMB();
  ready();
  await done;
  await consumer.close();
  await connection.quit();
  result({ stage: 'consumer', n: a.n, firstAt, lastAt, ms: lastAt - firstAt, chars, rssBeforeMB });
});
