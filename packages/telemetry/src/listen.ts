import { ConfigError, isLoopbackAddress } from '@nightshift/shared';

/** Where an HTTP server of Nightshift (the API, the board) is to listen, and whether it asks for credentials. */
export interface ListenSettings {
  /** How the messages name the server, e.g. `The API`. */
  server: string;
  host: string;
  /** The variable that sets `host`, e.g. `NIGHTSHIFT_API_HOST`. */
  hostVariable: string;
  port: number;
  /** The variable that sets `port`, e.g. `NIGHTSHIFT_API_PORT`. */
  portVariable: string;
  /** What it would answer without, when unset (e.g. `tokens`); undefined: it asks for credentials. */
  without: string | undefined;
  /** How to turn its credentials on, e.g. `Keep NIGHTSHIFT_API_AUTH=tokens`. */
  enable: string;
}

/**
 * Refuses, with a ConfigError naming the variables, a port that is not a port number and a server
 * without credentials on an address other machines can reach.
 */
export function checkListen(s: ListenSettings): void {
  if (s.without !== undefined && !isLoopbackAddress(s.host)) {
    throw new ConfigError(
      `${s.server} would listen on ${s.host}, which other machines can reach, without ${s.without}. ` +
        `${s.enable}, or listen on 127.0.0.1 (${s.hostVariable}).`,
    );
  }
  if (!Number.isInteger(s.port) || s.port < 0 || s.port > 65535) {
    throw new ConfigError(`${s.portVariable}: ${s.port} is not a port number (0–65535).`);
  }
}
