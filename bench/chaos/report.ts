import { replaceSection } from '../lib/doc.js';
import type { RecoveryFigures } from './recovery.js';
import { CHAOS_PAUSES, RESULT_WORKER, type RunReport } from './scenario.js';

const n = (x: number) => x.toLocaleString('en-US');
const sum = (rs: RunReport[], f: (r: RunReport) => number) => rs.reduce((a, r) => a + f(r), 0);
const sec = (ms: number) => `${Math.round(ms / 1000)} s`;

/** The figures of one `pnpm chaos` run as Markdown (the generated part of RELIABILITY.md). */
export function renderFigures(reports: RunReport[], meta: { startedAt: Date; durationMs: number }): string {
  const ok = reports.every((r) => r.check.ok);
  const f = (g: (r: RunReport) => number) => n(sum(reports, g));
  const lines = [
    `Last run: ${meta.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${sec(meta.durationMs)}, ` +
      `${reports.length} runs, **${ok ? 'every invariant held' : 'INVARIANTS BROKEN (see below)'}**.`,
    '',
    '| | total |',
    '| --- | ---: |',
    `| requests enqueued (acknowledged) | ${f((r) => r.check.figures.requests)} |`,
    `| succeeded (delivered by the result job their record names) | ${f((r) => r.check.figures.succeeded)} |`,
    `| dead-lettered (with reason and job) | ${f((r) => r.check.figures.dead)} |`,
    `| **lost** (acknowledged, no record, no allowance) | **${f((r) => r.check.figures.lost)}** |`,
    `| **stuck** (not final after the drain) | **${f((r) => r.check.figures.stuck)}** |`,
    `| **delivered twice** (the handler saw one custom_id from two result jobs) | **${f((r) => r.check.figures.deliveries.duplicate)}** |`,
    `| **cost counted twice** (ledger results − succeeded) | **${f((r) => r.check.figures.ledger.results - r.check.figures.succeeded)}** |`,
    `| **unknown or uncollected batches** | **${f((r) => r.check.figures.batches.unknown + r.check.figures.batches.uncollected)}** |`,
    `| **over the attempt policy** (attempt > 3) | **${f((r) => r.check.figures.overPolicy)}** |`,
    `| kill -9 of a batcher / of a collector / of a result worker | ${f((r) => r.kills.batcher)} / ${f((r) => r.kills.collector)} / ${f((r) => r.kills.results ?? 0)} |`,
    `| … of which at a risky moment (submission \`creating\`, stream starting, result job in hand) | ${f((r) => r.targetedKills)} |`,
    `| Redis faults (kill -9, power loss, outage, freeze) | ${f((r) => r.redisFaults.length)} |`,
    `| API faults answered by the emulator (HTTP) | ${f((r) => r.apiFaultsFired)} |`,
    `| batches expired / canceled by the operator | ${f((r) => r.expiredBatches)} / ${f((r) => r.canceledBatches)} |`,
    `| batches at the API | ${f((r) => r.check.figures.batches.atEmulator)} |`,
    `| … adopted after an ambiguous create or a crash | ${f((r) => r.check.figures.batches.adopted)} |`,
    `| … duplicate batches (allowed, counted) | ${f((r) => r.check.figures.batches.duplicate + r.check.figures.batches.orphansAdopted)} |`,
    `| requests the API processed twice (paid twice, delivered once) | ${f((r) => r.check.figures.requestsSentTwice)} |`,
    `| acknowledged enqueues cut by a simulated power loss (everysec), replayed | ${f((r) => r.check.figures.lostAckedReplayed)} |`,
    `| results handed to the handler again (same job, BullMQ at-least-once) | ${f((r) => r.check.figures.deliveries.redeliveredSameJob)} |`,
    `| results delivered again after a power loss cut their first job | ${f((r) => r.check.figures.deliveries.redeliveredAfterLoss)} |`,
    '',
    '| run | fsync | replicas | requests | kills b/c/r | Redis faults | API faults | succeeded | dead | dup. batches | sent twice | lost | stuck | twice | time |',
    '| --- | --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...reports.map((r) => {
      const c = r.check.figures;
      const redis = r.redisFaults.map((x) => x.kind).join(', ') || '–';
      return `| ${r.scenario}${r.check.ok ? '' : ' ❌'} | ${r.fsync} | ${r.replicas.batchers}+${r.replicas.collectors}${r.replicas.resultWorkers ? `+${r.replicas.resultWorkers}` : ''} ${r.replicas.entry} | ${n(c.requests)} | ${r.kills.batcher}/${r.kills.collector}/${r.kills.results ?? 0} | ${redis} | ${r.apiFaultsFired} | ${n(c.succeeded)} | ${n(c.dead)} | ${c.batches.duplicate + c.batches.orphansAdopted} | ${c.requestsSentTwice} | ${c.lost} | ${c.stuck} | ${c.deliveries.duplicate} | ${sec(r.durationMs)} |`;
    }),
    '',
    ...reports.map((r) => `- **${r.scenario}**: ${r.description}`),
    '',
    ...faultTables(reports),
    '',
    ...recoveryTable(reports),
  ];
  const broken = reports.flatMap((r) => r.check.violations.map((v) => ({ run: r.scenario, ...v })));
  if (broken.length) {
    lines.push('', '**Broken invariants:**', '');
    for (const v of broken)
      lines.push(`- ${v.run}: ${v.invariant} — ${v.count} (e.g. ${v.sample.join(', ')})`);
  }
  return lines.join('\n');
}

/** Replaces the generated section of RELIABILITY.md (between the chaos:figures markers). */
export function writeFigures(path: string, figures: string): void {
  replaceSection(path, 'chaos:figures', figures);
}

/** What was injected, by kind: API faults (injected / fired) and Redis faults (with the phase). */
function faultTables(reports: RunReport[]): string[] {
  const api = new Map<string, { injected: number; fired: number }>();
  for (const r of reports) {
    for (const [label, t] of Object.entries(r.api)) {
      const a = api.get(label) ?? { injected: 0, fired: 0 };
      a.injected += t.injected;
      a.fired += t.fired;
      api.set(label, a);
    }
  }
  const redis = reports.flatMap((r) =>
    r.redisFaults.map(
      (f) =>
        `| ${r.scenario} | ${f.kind} | ${f.during} | ${sec(f.back - f.at)} | ${
          f.bytesLost === undefined ? '–' : `${n(f.bytesLost)} bytes (${f.at - (f.lossFrom ?? f.at)} ms)`
        } |`,
    ),
  );
  return [
    '| API fault | injected | fired (HTTP answers, batches held or canceled) |',
    '| --- | ---: | ---: |',
    ...[...api].map(([label, a]) => `| ${label} | ${a.injected} | ${a.fired} |`),
    '',
    '| run | Redis fault | during | back after | AOF cut (power loss) |',
    '| --- | --- | --- | ---: | --- |',
    ...redis,
  ];
}

const SEC = (ms: number) => `${(ms / 1000).toLocaleString('en-US', { maximumFractionDigits: 1 })} s`;

/** Count, median and max of a list (ms unless `unit` says otherwise); "–" when empty. */
function spread(values: number[], unit: (v: number) => string = SEC): [string, string, string] {
  if (values.length === 0) return ['0', '–', '–'];
  const sorted = [...values].sort((a, b) => a - b);
  return [n(values.length), unit(sorted[Math.floor((sorted.length - 1) / 2)]!), unit(sorted.at(-1)!)];
}

/**
 * How long each recovery took over every run (RELIABILITY.md, "Recovery times", explains the
 * settings and their production defaults).
 */
function recoveryTable(reports: RunReport[]): string[] {
  const all = (k: Exclude<keyof RecoveryFigures, 'overlapped'>) =>
    reports.flatMap((r) => r.recovery?.[k] ?? []);
  const p = CHAOS_PAUSES;
  const rows: [string, string, Exclude<keyof RecoveryFigures, 'overlapped'>, string][] = [
    [
      'kill -9 of a batcher mid-flush',
      'any batcher submits (or adopts) a batch again',
      'batcherFlush',
      `flush-lock lease ${SEC(p.flushLockMs)} (the \`{flush}\` job lock, stalled check as often), tick ${SEC(p.tickMs)}`,
    ],
    [
      '… the same kill',
      'its own submission is settled (released, or its batch adopted)',
      'batcherSubmission',
      `submission lease ${SEC(p.submissionLeaseMs)}, then the next flush's recovery`,
    ],
    [
      'kill -9 of a collector',
      'each batch it was collecting is taken up by a collector',
      'collectorBatch',
      `collector job lock ${SEC(p.collectorLockMs)}, stalled check every half lock`,
    ],
    [
      'kill -9 of a result worker',
      'each job it had in hand is completed',
      'resultJob',
      `result-worker lock ${SEC(p.resultLockMs)}, stalled check every half lock`,
    ],
    [
      'a failed `batches.create`',
      'the next create is answered',
      'createAfterFailure',
      `create backoff ${SEC(p.createBackoffMs)} doubling to ${SEC(p.maxCreateBackoffMs)} (or retry-after), tick ${SEC(p.tickMs)}`,
    ],
  ];
  const repeats = spread(all('resultRepeats'), (v) => n(v));
  const overlapped = sum(reports, (r) => r.recovery?.overlapped ?? 0);
  return [
    '| after | until | times | median | max | the pause comes from (chaos settings) |',
    '| --- | --- | ---: | ---: | ---: | --- |',
    ...rows.map(([a, b, k, why]) => `| ${a} | ${b} | ${spread(all(k)).join(' | ')} | ${why} |`),
    '',
    `Left out: ${n(overlapped)} recoveries that another kill of the same role (or a Redis fault) interrupted. ` +
      `Results a killed result worker's job handed out again, per job: ${repeats[0]} jobs, median ${repeats[1]}, ` +
      `max ${repeats[2]} (bound: maxUnrecorded ${RESULT_WORKER.maxUnrecorded} + concurrency ${RESULT_WORKER.concurrency}).`,
  ];
}
