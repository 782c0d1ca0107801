import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/** Addresses no webhook goes to unless the operator allows private targets. */
const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv6');

/** True for loopback, private, link-local, CGNAT, multicast and reserved addresses. */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return PRIVATE.check(mapped[1]!, 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export class RefusedTarget extends Error {
  override name = 'RefusedTarget';
}

/**
 * A DNS lookup that refuses private answers: the check runs on the addresses the connection
 * will use, at connect time, so a name that resolves to a public address when registered and to
 * 127.0.0.1 later (DNS rebinding) is still refused.
 */
const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 4);
    const list = addresses as LookupAddress[];
    const bad = list.find((a) => isPrivateAddress(a.address));
    if (bad) {
      return callback(
        new RefusedTarget(
          `${hostname} resolves to ${bad.address}, a private address (NIGHTSHIFT_WEBHOOK_ALLOW_PRIVATE)`,
        ),
        '',
        4,
      );
    }
    if ((options as { all?: boolean }).all)
      return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
    callback(null, list[0]!.address, list[0]!.family);
  });
};

// Kept-alive connections: a busy endpoint is not reconnected per delivery. A new connection still
// goes through the guarded lookup.
const agents = {
  http: new HttpAgent({ keepAlive: true, maxSockets: 64 }),
  https: new HttpsAgent({ keepAlive: true, maxSockets: 64 }),
};

export interface PostResult {
  status: number;
  /** The first bytes of the answer, for the operator (never the request). */
  snippet: string;
}

/**
 * POSTs one delivery: no redirect is followed (a 3xx is an answer like any other), the whole
 * exchange is bounded by `timeoutMs`, the answer is read up to 4 KiB, and private targets are
 * refused unless allowed (literal IPs here, names at connect time).
 */
export function postWebhook(
  url: string,
  body: string,
  headers: Record<string, string>,
  opts: { timeoutMs: number; allowPrivate: boolean },
): Promise<PostResult> {
  const target = new URL(url);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  if (!opts.allowPrivate && isIP(host) && isPrivateAddress(host)) {
    return Promise.reject(
      new RefusedTarget(`${host} is a private address (NIGHTSHIFT_WEBHOOK_ALLOW_PRIVATE)`),
    );
  }
  const https = target.protocol === 'https:';
  const send = https ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
        signal: AbortSignal.timeout(opts.timeoutMs),
        ...(opts.allowPrivate ? {} : { lookup: guardedLookup }),
        agent: https ? agents.https : agents.http,
      },
      (res: IncomingMessage) => {
        let snippet = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (snippet.length < 4096) snippet += d.slice(0, 4096 - snippet.length);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, snippet }));
        res.on('error', reject);
      },
    );
    req.on('error', (err: Error) =>
      reject(err.name === 'AbortError' ? new Error(`no answer within ${opts.timeoutMs} ms`) : err),
    );
    req.end(body);
  });
}
