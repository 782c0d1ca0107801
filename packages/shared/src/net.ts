import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';

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

/** The host part of a `Host` header (`name`, `name:port`, `[v6]:port`), or null when malformed. */
export function hostOfHeader(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/.exec(header.trim());
  return m ? m[1]! : null;
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
