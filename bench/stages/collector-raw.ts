/**
 * Baseline child: raw iteration of the same batches' `results()` streams through the SDK (each line
 * parsed by the SDK's JSONL decoder, its custom_id and type read), without applying anything.
 */
import Anthropic from '@anthropic-ai/sdk';
import { result, rssMB, runChild, since, stageArgs } from './common.js';

interface Args {
  emuUrl: string;
  batchIds: string[];
  n: number;
}

runChild(async () => {
  const a = stageArgs<Args>();
  const client = new Anthropic({ apiKey: 'bench-key', baseURL: a.emuUrl });
  const rssBeforeMB = rssMB();
  const t0 = performance.now();
  let lines = 0;
  let succeeded = 0;
  for (const id of a.batchIds) {
    for await (const line of await client.messages.batches.results(id)) {
      if (line.custom_id) lines++;
      if (line.result.type === 'succeeded') succeeded++;
    }
  }
  const ms = since(t0);
  if (lines !== a.n) throw new Error(`collector-raw: ${lines} of ${a.n} lines`);
  result({ stage: 'collector-raw', n: a.n, ms, succeeded, rate: Math.round((a.n / ms) * 1000), rssBeforeMB });
});
