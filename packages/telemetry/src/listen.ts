import { ConfigError, isLoopbackAddress } from '@nightshift/shared';

/** The HTTP servers of Nightshift that listen for people and services, as the messages name them. */
const SERVERS = { api: 'The API', board: 'The board' } as const;

/** Where a server listens and the Host names it answers, checked. */
export interface Listen {
  host: string;
  port: number;
  allowedHosts: string[] | undefined;
}

/**
 * Where the `server` is to listen (host 127.0.0.1 by default), checked: a ConfigError, naming its
 * `NIGHTSHIFT_<SERVER>_HOST` / `_PORT` variables, refuses a port that is not a port number and,
 * when it asks for no credentials (`open`: what it would answer without, and how to turn them on),
 * an address other machines can reach. The allowed Host names are compared trimmed, in lower case.
 */
export function resolveListen(
  server: keyof typeof SERVERS,
  at: { host?: string; port: number; allowedHosts?: readonly string[] },
  open?: { without: string; enable: string },
): Listen {
  const host = at.host ?? '127.0.0.1';
  const variable = `NIGHTSHIFT_${server.toUpperCase()}`;
  if (open && !isLoopbackAddress(host)) {
    throw new ConfigError(
      `${SERVERS[server]} would listen on ${host}, which other machines can reach, without ${open.without}. ` +
        `${open.enable}, or listen on 127.0.0.1 (${variable}_HOST).`,
    );
  }
  if (!Number.isInteger(at.port) || at.port < 0 || at.port > 65535) {
    throw new ConfigError(`${variable}_PORT: ${at.port} is not a port number (0–65535).`);
  }
  return {
    host,
    port: at.port,
    allowedHosts: at.allowedHosts?.map((h) => h.trim().toLowerCase()).filter(Boolean),
  };
}
