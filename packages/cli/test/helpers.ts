import { runCli } from '../src/cli.js';

/** What a CLI run printed: its exit code, stdout and stderr, and both as they were interleaved. */
export interface CliRun {
  code: number;
  out: string;
  err: string;
  all: string;
}

/** Runs the CLI in this process with `env` as its whole environment, capturing what it prints. */
export async function runCliCaptured(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const all: string[] = [];
  const code = await runCli(args, env, {
    out: (l) => {
      out.push(l);
      all.push(l);
    },
    err: (l) => {
      err.push(l);
      all.push(l);
    },
  });
  return { code, out: out.join('\n'), err: err.join('\n'), all: all.join('\n') };
}
