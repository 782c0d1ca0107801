// Rewrites generated parts of README.md (configuration table) and ARCHITECTURE.md (API error
// tables): `pnpm gen:readme`.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderConfigTable } from '@nightshift/shared';
import { renderErrorTables } from './error-table.js';

function rewrite(file: string, marker: string, content: string) {
  const path = new URL(`../${file}`, import.meta.url);
  const before = readFileSync(path, 'utf8');
  const pattern = new RegExp(`<!-- ${marker}:start -->[\\s\\S]*<!-- ${marker}:end -->`);
  if (!pattern.test(before)) throw new Error(`${file} has no <!-- ${marker}:start/end --> markers`);
  const next = before.replace(pattern, () => `<!-- ${marker}:start -->\n${content}\n<!-- ${marker}:end -->`);
  writeFileSync(path, next);
  console.log(next === before ? `${file} (${marker}) already up to date` : `${file} (${marker}) updated`);
}

rewrite('README.md', 'config-table', renderConfigTable());
rewrite('ARCHITECTURE.md', 'error-codes', renderErrorTables());
