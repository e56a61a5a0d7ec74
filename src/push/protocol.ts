/**
 * Parsing what clients send, as pure functions so it can be tested without sockets. Every message
 * is a JSON text frame; docs/websocket-protocol.md lists them. Server frames: ./frames.ts.
 */
import { type CompiledFilter, compileFilter } from './filter.ts';
import type { ErrorCode } from '../client/wire-types.ts';

/** Channel names double as uWS topic names; keep them short and free of the MQTT wildcards + and #. */
export const CHANNEL_NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

export type ParsedRequest =
  | {
      type: 'subscribe';
      channel: string;
      filter: CompiledFilter | undefined;
      snapshot: boolean;
      resumeFrom: number | undefined;
      epoch: string | undefined;
      /** Several items per frame (`batch` messages) when they are published together. */
      batch: boolean;
    }
  | { type: 'unsubscribe'; channel: string };

export interface ProtocolError {
  code: ErrorCode;
  error: string;
  channel?: string;
}

export type ParseResult = { ok: true; request: ParsedRequest } | ({ ok: false } & ProtocolError);

/** Error texts sent to clients, by code; exported so tests and clients can match them exactly. */
export const PROTOCOL_ERRORS = {
  binary_frame: 'binary frames are not supported; send JSON text',
  malformed_json: 'malformed JSON',
  not_an_object: 'message must be a JSON object',
  unknown_type: 'unknown message type; expected "subscribe" or "unsubscribe"',
  invalid_channel: 'missing or invalid channel; expected 1-64 characters of A-Z a-z 0-9 _ . : -',
  invalid_filter: 'invalid filter',
  invalid_resume: 'resumeFrom must be a non-negative integer and epoch a string of at most 64 characters',
  too_many_channels: 'too many subscriptions on this connection',
  forbidden: 'this token does not permit the channel',
  rate_limited: 'too many messages; slow down (further messages are ignored until the rate drops)',
} as const satisfies Record<ErrorCode, string>;

export function isValidChannel(channel: unknown): channel is string {
  return typeof channel === 'string' && CHANNEL_NAME_PATTERN.test(channel);
}

/** Turns one text frame into a request, or into the error to send back. Never throws. */
export function parseClientMessage(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return failure('malformed_json');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return failure('not_an_object');
  const message = value as Record<string, unknown>;
  const { type, channel } = message;
  if (type !== 'subscribe' && type !== 'unsubscribe') return failure('unknown_type');
  if (!isValidChannel(channel)) return failure('invalid_channel');
  if (type === 'unsubscribe') return { ok: true, request: { type, channel } };

  const filter = compileFilter(message.filter);
  if (!filter.ok) return { ok: false, code: 'invalid_filter', error: `${PROTOCOL_ERRORS.invalid_filter}: ${filter.problem}`, channel };
  const { resumeFrom, epoch, snapshot, batch } = message;
  if (resumeFrom !== undefined && !(Number.isSafeInteger(resumeFrom) && (resumeFrom as number) >= 0)) return failure('invalid_resume', channel);
  if (epoch !== undefined && !(typeof epoch === 'string' && epoch.length <= 64)) return failure('invalid_resume', channel);
  if (snapshot !== undefined && typeof snapshot !== 'boolean') {
    return { ok: false, code: 'invalid_filter', error: `${PROTOCOL_ERRORS.invalid_filter}: snapshot must be true or false`, channel };
  }
  if (batch !== undefined && typeof batch !== 'boolean') {
    return { ok: false, code: 'invalid_filter', error: `${PROTOCOL_ERRORS.invalid_filter}: batch must be true or false`, channel };
  }
  return {
    ok: true,
    request: {
      type,
      channel,
      filter: filter.filter,
      snapshot: snapshot ?? true,
      resumeFrom: resumeFrom as number | undefined,
      epoch: epoch as string | undefined,
      batch: batch ?? false,
    },
  };
}

function failure(code: ErrorCode, channel?: string): { ok: false } & ProtocolError {
  return channel === undefined ? { ok: false, code, error: PROTOCOL_ERRORS[code] } : { ok: false, code, error: PROTOCOL_ERRORS[code], channel };
}
