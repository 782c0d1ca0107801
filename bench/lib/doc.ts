import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';

/**
 * Replaces the generated section `name` of a document (BENCHMARKS.md, RELIABILITY.md): what stands
 * between its `<!-- name:start -->` and `<!-- name:end -->` markers becomes `text`.
 */
export function replaceSection(path: string, name: string, text: string): void {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const doc = readFileSync(path, 'utf8');
  const a = doc.indexOf(start);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${basename(path)} lacks the ${start} … ${end} markers`);
  writeFileSync(path, `${doc.slice(0, a + start.length)}\n${text}\n${doc.slice(b)}`);
}
