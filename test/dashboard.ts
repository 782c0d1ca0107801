/** Reading the Grafana dashboard's queries (test/grafana.dashboard.test.ts, test/prometheus.e2e.test.ts). */

interface Panel {
  type: string;
  title: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

/** Every query of every panel (rows' nested panels included), with its panel's title. */
export function dashboardQueries(dashboard: { panels: Panel[] }): { panel: string; expr: string }[] {
  const all = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  return all.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? '' })));
}

/** The query with Grafana's variables replaced by values Prometheus accepts. */
export function withGrafanaVariables(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$job', 'nightshift-.*');
}

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
]);

/** The metric names a PromQL expression reads (functions, keywords, labels and ranges left out). */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    if (m[2] || KEYWORDS.has(m[1]!)) continue;
    names.add(m[1]!);
  }
  return [...names];
}
