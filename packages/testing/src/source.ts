/**
 * The export condition under which every `@nightshift/*` package resolves to its TypeScript source
 * (`src/index.ts`) instead of its build (`dist/`): tests, benchmarks and `pnpm start` run the
 * workspace from source, with no build step.
 */
export const SOURCE_CONDITION = '@nightshift/source';

/**
 * Node arguments that run one of this repository's TypeScript entry points from source, as a child
 * process: `spawn(process.execPath, sourceNodeArgs(entry, ...args))`. tsx compiles the entry, and
 * the source condition makes its `@nightshift/*` imports load their src/ (run with a cwd inside the
 * repository, so `tsx` resolves).
 */
export function sourceNodeArgs(entry: string, ...args: string[]): string[] {
  return [`--conditions=${SOURCE_CONDITION}`, '--import', 'tsx', entry, ...args];
}
