import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import type { Logger } from './log.js';

/**
 * True for addresses only this machine can reach: 127.0.0.0/8, ::1, ::ffff:127.x, localhost and
 * `*.localhost`. The board and the API refuse to listen elsewhere without credentials, and check
 * callers and `Host` headers against it.
 */
export function isLoopbackAddress(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/** The loopback names every HTTP role answers to. */
const LOOPBACK_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];

/** The host of a `Host` header, lower-cased, without port or trailing dot: `[::1]:3000` → `[::1]`. */
function hostOfHeader(header: string | undefined): string | null {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::\d{1,5})?$/i.exec(header?.trim() ?? '');
  return m ? m[1]!.toLowerCase().replace(/\.$/, '') : null;
}

/** True when `host` is one of `allowed` (a `.example.com` entry admits the name and its subdomains). */
function hostAllowed(host: string, allowed: readonly string[]): boolean {
  return allowed.some((a) => (a.startsWith('.') ? host === a.slice(1) || host.endsWith(a) : host === a));
}

/**
 * The DNS-rebinding rule every HTTP role (board, API) applies before any route: a request is served
 * when its `Host` is a loopback name ({@link LOOPBACK_HOSTS}), the listen address, or one of
 * `allowedHosts` (the role's `NIGHTSHIFT_<ROLE>_ALLOWED_HOSTS`). A rebinding page reaches a loopback
 * server under its own name (`Host: evil.example`); a browser never sends a loopback `Host` for it.
 * Answers the function that takes a `Host` header and gives null when it is served, or the refused
 * host name (cut to 100 characters, for a log line).
 */
function hostRule(opts: {
  allowedHosts?: readonly string[] | undefined;
  listenHost?: string | undefined;
}): (header: string | undefined) => string | null {
  const listen = opts.listenHost
    ? hostOfHeader(isIP(opts.listenHost) === 6 ? `[${opts.listenHost}]` : opts.listenHost)
    : null;
  // A wildcard listen address (0.0.0.0, ::) is no name anyone is reached by.
  const own = listen && listen !== '0.0.0.0' && listen !== '[::]' ? [listen] : [];
  const allowed = [...LOOPBACK_HOSTS, ...own, ...(opts.allowedHosts ?? [])];
  return (header) => {
    const host = hostOfHeader(header);
    if (host && hostAllowed(host, allowed)) return null;
    return (host ?? String(header ?? '(none)')).slice(0, 100);
  };
}

/**
 * {@link hostRule} as an HTTP role applies it: answers whether a request with that `Host` header is
 * refused (421), and logs each refused name once, at most 100 of them (made-up names cannot grow
 * the set), with the caller's address. `server` names the role in the log line ('API', 'board').
 */
export function hostGuard(opts: {
  allowedHosts?: readonly string[] | undefined;
  listenHost?: string | undefined;
  logger: Logger;
  server: string;
}): (header: string | undefined, client: string | undefined) => boolean {
  const refusedHost = hostRule(opts);
  const logged = new Set<string>();
  return (header, client) => {
    const name = refusedHost(header);
    if (name === null) return false;
    if (logged.size < 100 && !logged.has(name)) {
      logged.add(name);
      opts.logger.warn(
        { host: name, client },
        `request for a host name this ${opts.server} does not serve refused (421)`,
      );
    }
    return true;
  };
}

/** Starts an HTTP app (Express or anything with `listen`); answers its server and URL. */
export function listenHttp(
  app: { listen(port: number, host: string): Server },
  host: string,
  port: number,
): Promise<{ server: Server; url: string }> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host);
    server.once('listening', () => {
      const addr = server.address() as AddressInfo;
      const shown = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;
      resolve({ server, url: `http://${shown}:${addr.port}` });
    });
    server.once('error', reject);
  });
}
