// Rewrites generated parts of README.md: `pnpm gen:readme`.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderConfigTable } from '@nightshift/shared';

const path = new URL('../README.md', import.meta.url);
const readme = readFileSync(path, 'utf8');
const next = readme.replace(
  /<!-- config-table:start -->[\s\S]*<!-- config-table:end -->/,
  `<!-- config-table:start -->\n${renderConfigTable()}\n<!-- config-table:end -->`,
);
writeFileSync(path, next);
console.log(next === readme ? 'README.md already up to date' : 'README.md configuration table updated');
