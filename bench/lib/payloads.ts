import type { EnqueueRequest } from '@nightshift/producer';

/** The model every benchmark request names (priced in the shared table). */
export const BENCH_MODEL = 'claude-haiku-4-5';
/** The feature tag of benchmark requests. */
export const BENCH_FEATURE = 'bench-classify';
/** Target size of the user text: with the envelope, each request line is about 1 KB. */
const TEXT_CHARS = 820;

const WORDS = (
  'invoice contract delivery payment customer quarterly report warranty shipment account balance ' +
  'renewal service update request approval schedule meeting budget forecast supplier order refund ' +
  'policy claim ticket error export import letter notice review summary minutes agenda figures'
).split(' ');

/** A deterministic LCG, so every run (and every process) builds the same bytes. */
function rng(seed: number) {
  let s = (seed * 2654435761) >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** The custom_id of the i-th benchmark request (also the raw baseline's BullMQ jobId). */
export const benchCustomId = (i: number) => `bench-${String(i).padStart(7, '0')}`;

/** About 256 KB of deterministic words; each request reads its own window of it. */
const CORPUS = (() => {
  const rand = rng(7);
  const parts: string[] = [];
  let len = 0;
  while (len < 256 * 1024) {
    const w = WORDS[Math.floor(rand() * WORDS.length)]!;
    parts.push(w);
    len += w.length + 1;
  }
  return parts.join(' ');
})();

function documentText(i: number): string {
  const at = (i * 7919) % (CORPUS.length - TEXT_CHARS);
  return `Document ${i}: ${CORPUS.slice(at, at + TEXT_CHARS)}`;
}

/**
 * `n` requests of about 1 KB each (serialized `{"custom_id":…,"params":…}`), all different, with one
 * shared system prompt (one cache group), explicit custom_ids and small metadata. The producer and
 * the raw BullMQ baseline get exactly these objects.
 */
export function benchRequests(n: number): EnqueueRequest[] {
  const out: EnqueueRequest[] = new Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = {
      customId: benchCustomId(i),
      feature: BENCH_FEATURE,
      params: {
        model: BENCH_MODEL,
        max_tokens: 16,
        system: 'You label business documents. Answer with exactly one label.',
        messages: [{ role: 'user', content: `${documentText(i)}\n\nLabels: invoice, contract, other` }],
      },
      metadata: { doc: i },
    };
  }
  return out;
}
