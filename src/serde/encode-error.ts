import { TributaryError } from '../core/errors.ts';

/**
 * A value could not be written in a wire format (a field of the wrong type, a value JSON cannot
 * hold). Never retriable: the same value fails again. Lives here until core/errors.ts has one.
 */
export class EncodeError extends TributaryError {
  constructor(message: string, cause?: unknown) {
    super(message, { retriable: false, code: 'ENCODE', cause });
  }
}
