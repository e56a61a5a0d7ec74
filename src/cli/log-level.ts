/** The level of the CLI's logs: LOG_LEVEL (debug, info, warn, error, silent), default info. */
export function logLevel(fallback = 'info'): string {
  return process.env.LOG_LEVEL ?? fallback;
}
