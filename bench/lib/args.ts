import { parseArgs } from 'node:util';

/**
 * A benchmark's command line: `--<name> <value>` for each option, with its default. Numeric
 * options come back as numbers (`numbers`), the others as strings (`strings`), so a bench passes
 * `numbers` straight to its run function.
 */
export function benchArgs<N extends string, S extends string>(
  numberDefaults: Record<N, number>,
  stringDefaults: Record<S, string>,
): { numbers: Record<N, number>; strings: Record<S, string> } {
  const options: Record<string, { type: 'string'; default: string }> = {};
  for (const [name, value] of Object.entries<number>(numberDefaults)) {
    options[name] = { type: 'string', default: String(value) };
  }
  for (const [name, value] of Object.entries<string>(stringDefaults)) {
    options[name] = { type: 'string', default: value };
  }
  const { values } = parseArgs({ options });
  const pick = (names: string[]) => names.map((name) => [name, values[name] as string]);
  return {
    numbers: Object.fromEntries(
      pick(Object.keys(numberDefaults)).map(([name, value]) => [name, Number(value)]),
    ) as Record<N, number>,
    strings: Object.fromEntries(pick(Object.keys(stringDefaults))) as Record<S, string>,
  };
}
