/**
 * The push protocol, as pure functions so it can be tested without sockets.
 *
 * Client → server: {"type":"subscribe","channel":"fraud"} and {"type":"unsubscribe","channel":"fraud"}.
 * Server → client: {"type":"subscribed","channel":"fraud"}, {"type":"unsubscribed","channel":"fraud"},
 * {"type":"data","channel":"fraud","data":{...}} and {"type":"error","error":"..."}.
 */

/** Channel names double as uWS topic names; keep them short and free of the MQTT wildcards + and #. */
export const CHANNEL_NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

export type ClientRequest = { type: 'subscribe' | 'unsubscribe'; channel: string };

export type ParseResult = { ok: true; request: ClientRequest } | { ok: false; error: string };

/** Error texts sent to clients; exported so tests and the dashboard can match them exactly. */
export const PROTOCOL_ERRORS = {
  binary: 'binary frames are not supported; send JSON text',
  malformedJson: 'malformed JSON',
  notAnObject: 'message must be a JSON object',
  unknownType: 'unknown message type; expected "subscribe" or "unsubscribe"',
  invalidChannel: 'missing or invalid channel; expected 1-64 characters of A-Z a-z 0-9 _ . : -',
  tooManyChannels: 'too many subscriptions on this connection',
} as const;

export function isValidChannel(channel: unknown): channel is string {
  return typeof channel === 'string' && CHANNEL_NAME_PATTERN.test(channel);
}

/** Turns one text frame into a request, or into the error to send back. Never throws. */
export function parseClientMessage(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: PROTOCOL_ERRORS.malformedJson };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: PROTOCOL_ERRORS.notAnObject };
  }
  const { type, channel } = value as { type?: unknown; channel?: unknown };
  if (type !== 'subscribe' && type !== 'unsubscribe') return { ok: false, error: PROTOCOL_ERRORS.unknownType };
  if (!isValidChannel(channel)) return { ok: false, error: PROTOCOL_ERRORS.invalidChannel };
  return { ok: true, request: { type, channel } };
}

export function ackMessage(request: ClientRequest): string {
  const type = request.type === 'subscribe' ? 'subscribed' : 'unsubscribed';
  return JSON.stringify({ type, channel: request.channel });
}

export function errorMessage(error: string): string {
  return JSON.stringify({ type: 'error', error });
}

/** One data frame per item; undefined becomes null so `data` is always present. Throws what JSON.stringify throws (BigInt, cycles). */
export function dataMessage(channel: string, item: unknown): string {
  return JSON.stringify({ type: 'data', channel, data: item === undefined ? null : item });
}
