/** Renders benchmark results as the Markdown tables BENCHMARKS.md includes. */
import type { BenchResults } from '../harness.js';
import type { StageFigures } from '../sections/stages.js';
import type { Summary } from './stats.js';

const n0 = (v: number, d = 0) =>
  v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
/** "median (min–max)", or just the median for a single run. */
const mm = (s: Summary, d = 0, unit = '') =>
  s.runs.length > 1
    ? `${n0(s.median, d)}${unit} (${n0(s.min, d)}–${n0(s.max, d)})`
    : `${n0(s.median, d)}${unit}`;
const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
const head = (cells: string[]) => [row(cells), row(cells.map(() => '---'))];

type StageKey = 'producer' | 'batcher' | 'collector';
type StagesSize = BenchResults['stages'][number];

/**
 * A table with one row per size and stage: `cells` gets the stage's figures, a reader of the median
 * of one of its extra figures ('–' when absent), the stage and the size.
 */
function perStage(
  r: BenchResults,
  header: string[],
  cells: (f: StageFigures, x: (k: string) => string, key: StageKey, s: StagesSize) => (string | number)[],
): string[] {
  const out = head(header);
  for (const s of r.stages) {
    for (const key of ['producer', 'batcher', 'collector'] as const) {
      const f = s[key];
      const x = (k: string) => (f.extra[k] ? n0(f.extra[k]!.median) : '–');
      out.push(row(cells(f, x, key, s)));
    }
  }
  return out;
}

const STAGE_LABELS: Record<StageKey, string> = {
  producer: 'producer `enqueueMany` vs `addBulk`',
  batcher: 'batcher claim + submit vs `getWaiting` + `JSON.stringify`',
  collector: 'collector apply vs raw `results()` iteration',
};

function stageRows(r: BenchResults): string[] {
  return perStage(
    r,
    [
      'n',
      'stage',
      'Nightshift, ms',
      'Nightshift, /s',
      'raw baseline, ms',
      'raw, /s',
      'speed vs raw',
      'peak RSS, MB',
      'raw peak RSS, MB',
      'load avg',
    ],
    (f, _x, key, s) => [
      n0(s.n),
      STAGE_LABELS[key],
      mm(f.ms),
      mm(f.perSecond),
      mm(f.baselineMs),
      mm(f.baselinePerSecond),
      mm(f.ratio, 2, '×'),
      mm(f.peakRssMB),
      mm(f.baselinePeakRssMB),
      mm(s.loadAvg, 1),
    ],
  );
}

/** Wall time beside the CPU time of the stage process (and its GC), redis-server and the emulator. */
function cpuRows(r: BenchResults): string[] {
  return perStage(
    r,
    [
      'n',
      'stage',
      'wall, ms',
      'process CPU, ms',
      'GC pauses, ms',
      'redis-server CPU, ms',
      'emulator CPU, ms',
      'raw: wall',
      'raw: process CPU',
      'raw: GC pauses',
      'raw: redis-server CPU',
      'raw: emulator CPU',
    ],
    (f, x, key, s) => [
      n0(s.n),
      key,
      n0(f.ms.median),
      x('cpuMs'),
      x('gcMs'),
      x('redisCpuMs'),
      x('emuCpuMs'),
      n0(f.baselineMs.median),
      x('baseline.cpuMs'),
      x('baseline.gcMs'),
      x('baseline.redisCpuMs'),
      x('baseline.emuCpuMs'),
    ],
  );
}

/** What each stage process's peak RSS is made of (sampled every 100 ms). */
function memoryRows(r: BenchResults): string[] {
  return perStage(
    r,
    [
      'n',
      'stage',
      'RSS before work, MB',
      'peak RSS, MB',
      'peak V8 heap used, MB',
      'peak V8 heap total, MB',
      'peak external (Buffers), MB',
    ],
    (f, x, key, s) => [
      n0(s.n),
      key,
      x('rssBeforeMB'),
      mm(f.peakRssMB),
      x('heapUsedMB'),
      x('heapTotalMB'),
      x('externalMB'),
    ],
  );
}

function batcherDetail(r: BenchResults): string[] {
  const out = head([
    'n',
    'create body, MB',
    'of which `batches.create` (upload + emulator ingest), ms',
    'raw fetch, ms',
    'raw stringify, ms',
  ]);
  for (const s of r.stages) {
    const e = s.batcher.extra;
    out.push(
      row([n0(s.n), mm(e.bodyMB!, 1), mm(e.createMs!), mm(e.baselineFetchMs!), mm(e.baselineStringifyMs!)]),
    );
  }
  return out;
}

function e2eRows(r: BenchResults): string[] {
  const out = head([
    'n',
    'end to end, ms',
    'requests/s',
    'sum of raw baselines, ms',
    'speed vs raw',
    'enqueue, ms',
    'flush, ms',
    'apply, ms',
    'consumer tail, ms',
    'handoffs, ms',
    'peak RSS MB: producer',
    'batcher',
    'collector',
    'consumer',
    'load avg',
  ]);
  for (const e of r.e2e) {
    out.push(
      row([
        n0(e.n),
        mm(e.ms),
        mm(e.perSecond),
        mm(e.baselineSumMs),
        mm(e.ratio, 2, '×'),
        mm(e.phases.enqueueMs),
        mm(e.phases.flushMs),
        mm(e.phases.applyMs),
        mm(e.phases.consumerTailMs),
        mm(e.phases.handoffMs),
        mm(e.peakRssMB.producer),
        mm(e.peakRssMB.batcher),
        mm(e.peakRssMB.collector),
        mm(e.peakRssMB.consumer),
        mm(e.loadAvg, 1),
      ]),
    );
  }
  return out;
}

function e2eHeapRows(r: BenchResults): string[] {
  const out = head(['n', 'producer', 'batcher', 'collector', 'consumer']);
  for (const e of r.e2e) {
    const h = e.peakHeapTotalMB;
    out.push(row([n0(e.n), mm(h.producer), mm(h.batcher), mm(h.collector), mm(h.consumer)]));
  }
  return out;
}

function e2eBaselineRows(r: BenchResults): string[] {
  const out = head([
    'n',
    'raw `addBulk`, ms',
    'raw `getWaiting` + `JSON.stringify`, ms',
    'raw `results()` iteration, ms',
    'raw BullMQ `Worker` consume, ms',
    'sum, ms',
  ]);
  for (const e of r.e2e) {
    const b = e.baselineMs;
    out.push(
      row([
        n0(e.n),
        mm(b.enqueueMs),
        mm(b.fetchBodyMs),
        mm(b.iterateMs),
        mm(b.consumeMs),
        mm(e.baselineSumMs),
      ]),
    );
  }
  return out;
}

function metricsRows(r: BenchResults): string[] {
  const m = r.metricsOverhead;
  return [
    `#### Metrics overhead: the collector applying ${n0(m.n)} results without and with a metrics registry (${m.pairs} pairs, order alternating)`,
    '',
    ...head(['collector', 'apply ms', 'collector CPU ms', 'without / with (1 = no cost)']),
    row(['without metrics', mm(m.offMs), mm(m.offCpuMs), '']),
    row(['with metrics (as `NIGHTSHIFT_METRICS_PORT` runs it)', mm(m.onMs), mm(m.onCpuMs), mm(m.ratio, 2)]),
    '',
    `One scrape of the collector's registry at the end: ${n0(m.scrapeBytes)} bytes.`,
  ];
}

function costRows(r: BenchResults): string[] {
  const out = head([
    'scenario',
    'batches',
    'uncached input',
    'cache write',
    'cache read',
    'output',
    'batch price, $',
    'same tokens real-time, $',
    'batch cost vs mixed packing',
  ]);
  const mixed = r.cost.rows.find((c) => c.packing === 'mixed');
  for (const c of r.cost.rows) {
    const t = c.tokens;
    out.push(
      row([
        c.scenario,
        c.batches,
        n0(t.input),
        n0(t.cacheWrite5m + t.cacheWrite1h),
        n0(t.cacheRead),
        n0(t.output),
        n0(c.batchUsd, 4),
        n0(c.realtimeUsd, 4),
        mixed ? `${n0((c.batchUsd / mixed.batchUsd) * 100, 0)} %` : '–',
      ]),
    );
  }
  const g = r.cost.rows.find((c) => c.packing === 'grouped' && c.prompts > 1);
  const m = mixed;
  if (g && m) {
    out.push(
      '',
      `Every row pays 50 % of the real-time price of its tokens (the batch discount); what grouping changes ` +
        `is how many of those tokens are cheap cache reads. Grouping by cache prefix saves ` +
        `${n0((1 - g.batchUsd / m.batchUsd) * 100, 1)} % of the batch cost of the mixed packing ` +
        `(${n0(g.batchUsd, 4)} $ vs ${n0(m.batchUsd, 4)} $ for ${n0(r.cost.requests)} requests), and ` +
        `${n0((1 - g.batchUsd / m.realtimeUsd) * 100, 1)} % of what the mixed packing's tokens would cost real-time.`,
    );
  }
  return out;
}

/** The result consumer at each `maxUnrecorded`, beside the unbounded setting of the same run. */
function consumerRows(r: BenchResults): string[] {
  const out = head([
    'consumer',
    '`maxUnrecorded`',
    'repeats after a kill -9, at most (per job)',
    'ms',
    'results/s',
    'vs unbounded',
    'consumer CPU, µs/result',
    'Redis CPU, µs/result',
  ]);
  for (const f of r.consumer.figures) {
    out.push(
      row([
        f.consumer,
        f.maxUnrecorded === null ? '∞ (no bound)' : String(f.maxUnrecorded),
        f.maxUnrecorded === null
          ? 'the whole job (100)'
          : `${f.maxUnrecorded} + ${f.concurrency} in progress`,
        mm(f.ms),
        mm(f.perSecond),
        mm(f.vsUnbounded, 2, '×'),
        mm(f.cpuUsPerResult, 1),
        mm(f.redisCpuUsPerResult, 1),
      ]),
    );
  }
  return out;
}

/** The whole Markdown block: targets, stages, end to end and scale, footprint, cost, machine. */
export function renderMarkdown(r: BenchResults): string {
  const m = r.meta.machine;
  const f = r.footprint;
  const lines = [
    `_${r.meta.mode} run of ${r.meta.date} (\`${r.meta.command}\`, ${r.meta.durationS} s): ${m.nproc} × ${m.cpuModel}, ` +
      `${m.memoryGB} GB RAM, Node ${m.node}, Redis ${m.redis}, ${m.os}; load average ${m.loadAvg.start} at start, ` +
      `${m.loadAvg.end ?? '?'} at end. Code: ${r.meta.code.commit}` +
      (r.meta.code.uncommitted.length
        ? ` plus uncommitted changes in ${r.meta.code.uncommitted.map((f) => `\`${f}\``).join(', ')}`
        : '') +
      `. Figures: median (min–max) of ${r.meta.options.runs} run(s)._`,
    '',
    '#### Targets (issues 3, 4, 5)',
    '',
    ...head(['issue', 'what', 'target', 'measured (median)', 'met']),
    ...r.targets.map((t) =>
      row([
        `#${t.issue}`,
        t.what,
        t.target,
        t.value + (t.note ? ` (${t.note})` : ''),
        t.met ? 'yes' : '**no**',
      ]),
    ),
    '',
    '#### Stages beside their raw baselines (each in its own process)',
    '',
    ...stageRows(r),
    '',
    ...batcherDetail(r),
    '',
    '#### Where the time goes (medians; CPU of redis-server and the emulator counted while the stage process ran)',
    '',
    ...cpuRows(r),
    '',
    '#### Memory of the stage processes (medians)',
    '',
    ...memoryRows(r),
    '',
    '#### End to end and scale curve (enqueue → n-th result in the consumer)',
    '',
    ...e2eRows(r),
    '',
    ...e2eBaselineRows(r),
    '',
    'Peak V8 heap (total) of the end-to-end processes, MB (the rest of the RSS is code, buffers and the runtime):',
    '',
    ...e2eHeapRows(r),
    '',
    `#### Redis footprint at ${n0(f.n)} requests (INFO used_memory deltas)`,
    '',
    ...head([
      'queued, bytes/request',
      'in flight, bytes/request',
      'collected (record + result job), bytes/request',
      'final after delivery, bytes/request',
      'a delivered record (MEMORY USAGE), bytes',
      'raw BullMQ waiting job, bytes/job',
    ]),
    row([
      n0(f.queuedBytesPerRequest),
      n0(f.inflightBytesPerRequest),
      n0(f.collectedBytesPerRequest),
      n0(f.deliveredBytesPerRequest),
      n0(f.deliveredRecordBytes),
      n0(f.rawBullmqWaitingBytesPerJob),
    ]),
    '',
    `#### Cost view (${n0(r.cost.requests)} requests, batches of at most ${r.cost.maxRequests}, prices of \`claude-haiku-4-5\`)`,
    '',
    ...costRows(r),
    '',
    `#### Result consumer: the cost of the bound on unrecorded results (${n0(r.consumer.n)} results, 100 to a job)`,
    '',
    ...consumerRows(r),
    '',
    ...metricsRows(r),
    '',
  ];
  return lines.join('\n');
}
