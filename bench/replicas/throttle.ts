/**
 * A pacing proxy in front of the emulator: every request is forwarded as it is, but the body of a
 * batch's results (`GET /v1/messages/batches/<id>/results`) is sent at most `bytesPerSec` per
 * stream. On loopback the emulator streams results as fast as the CPU allows; the real API's
 * results come over the internet, where one stream's rate is bounded by the network, not by us.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Throttle {
  url: string;
  close(): Promise<void>;
}

const RESULTS_PATH = /^\/v1\/messages\/batches\/[^/]+\/results/;
/** Pacing granularity: one slice per tick. */
const TICK_MS = 20;

export async function startThrottle(target: string, bytesPerSec: number): Promise<Throttle> {
  const to = new URL(target);
  const server: Server = createServer((req, res) => {
    const upstream = request(
      { host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (!RESULTS_PATH.test(req.url ?? '')) {
          up.pipe(res);
          return;
        }
        pace(up, res, bytesPerSec);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Copies `from` to `to` at `bytesPerSec`, in slices every TICK_MS, honouring back-pressure. */
function pace(
  from: NodeJS.ReadableStream & { pause(): void; resume(): void },
  to: NodeJS.WritableStream,
  bytesPerSec: number,
) {
  const perTick = Math.max(1, Math.round((bytesPerSec * TICK_MS) / 1000));
  const queue: Buffer[] = [];
  let queued = 0;
  let ended = false;
  const timer = setInterval(() => {
    let budget = perTick;
    while (budget > 0 && queue.length) {
      const head = queue[0]!;
      const part = head.subarray(0, budget);
      to.write(part);
      budget -= part.length;
      queued -= part.length;
      if (part.length === head.length) queue.shift();
      else queue[0] = head.subarray(part.length);
    }
    if (queued < perTick * 10) from.resume();
    if (ended && queue.length === 0) {
      clearInterval(timer);
      to.end();
    }
  }, TICK_MS);
  from.on('data', (d: Buffer) => {
    queue.push(d);
    queued += d.length;
    if (queued > perTick * 50) from.pause();
  });
  from.on('end', () => {
    ended = true;
  });
  from.on('error', () => {
    clearInterval(timer);
    to.end();
  });
}
