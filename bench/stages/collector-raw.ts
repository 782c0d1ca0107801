/**
 * Baseline child: raw iteration of the same batches' `results()` streams through the SDK (each line
 * parsed by the SDK's JSONL decoder, its custom_id and type read), without applying anything.
 */
import Anthropic from '@anthropic-ai/sdk';
import { rawIterate } from '../lib/raw.js';
import { meter, result, rssMB, runChild, stageArgs } from './common.js';

interface Args {
  emuUrl: string;
  batchIds: string[];
  n: number;
}

runChild(async () => {
  const a = stageArgs<Args>();
  const client = new Anthropic({ apiKey: 'bench-key', baseURL: a.emuUrl });
  const rssBeforeMB = rssMB();
  const m = meter();
  const r = await rawIterate(client, a.batchIds);
  const { cpuMs, gcMs } = m.stop();
  if (r.lines !== a.n) throw new Error(`collector-raw: ${r.lines} of ${a.n} lines`);
  result({ stage: 'collector-raw', n: a.n, ...r, cpuMs, gcMs, rssBeforeMB });
});
