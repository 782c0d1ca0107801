/**
 * A pacing proxy in front of the emulator: every request is forwarded as it is, but the body of a
 * batch's results (`GET /v1/messages/batches/<id>/results`) is sent at most `bytesPerSec` per
 * stream. On loopback the emulator streams results as fast as the CPU allows; the real API's
 * results come over the internet, where one stream's rate is bounded by the network, not by us.
 */
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Throttle {
  url: string;
  /** Bytes of results bodies passed so far. */
  resultBytes(): number;
  close(): Promise<void>;
}

const RESULTS_PATH = /^\/v1\/messages\/batches\/[^/]+\/results/;
/** Pacing granularity: one slice per tick. */
const TICK_MS = 20;

export async function startThrottle(target: string, bytesPerSec: number): Promise<Throttle> {
  const to = new URL(target);
  let resultBytes = 0;
  let self = () => '';
  const server: Server = createServer((req, res) => {
    const upstream = request(
      { host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers },
      (up) => {
        if (!RESULTS_PATH.test(req.url ?? '')) {
          rewriteOrigin(up, res, to.origin, self());
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.on('data', (d: Buffer) => {
          resultBytes += d.length;
        });
        pace(up, res, bytesPerSec);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  self = () => `http://127.0.0.1:${port}`;
  return {
    url: `http://127.0.0.1:${port}`,
    resultBytes: () => resultBytes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Passes an answer on with the emulator's origin replaced by the proxy's: a batch's `results_url`
 * names the emulator, and the SDK fetches results from that URL, which must go through the proxy.
 */
function rewriteOrigin(up: IncomingMessage, res: ServerResponse, from: string, to: string) {
  const chunks: Buffer[] = [];
  up.on('data', (d: Buffer) => chunks.push(d));
  up.on('end', () => {
    const body = Buffer.from(Buffer.concat(chunks).toString('utf8').replaceAll(from, to));
    const headers = { ...up.headers, 'content-length': String(body.length) };
    delete headers['transfer-encoding'];
    res.writeHead(up.statusCode ?? 502, headers);
    res.end(body);
  });
  up.on('error', () => res.destroy());
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
