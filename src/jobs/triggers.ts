import { Cron } from 'croner';
import { ConfigError } from '../core/errors.ts';

/** When a scheduled job is due. */
export interface Trigger {
  /** The first due time strictly after `after` (epoch ms), or null when there is none. */
  next(after: number): number | null;
  /** For logs and `schedule --list`. */
  readonly description: string;
}

/**
 * A cron expression (croner: 5 fields, or 6 with seconds first; in `timezone`, default the
 * machine's). Croner only computes the times here: the timer is armTrigger's, so the scheduler
 * knows the exact time each run was due.
 */
export function cronTrigger(expression: string, options: { timezone?: string; field?: string } = {}): Trigger {
  let cron: Cron;
  try {
    cron = new Cron(expression, { timezone: options.timezone });
  } catch (error) {
    throw new ConfigError(options.field ?? 'schedule', `"${expression}" is not a cron expression (${error instanceof Error ? error.message : String(error)})`, "write 5 fields (minute hour day month weekday), e.g. '0 * * * *' for hourly, or 6 with seconds first");
  }
  return {
    next: (after) => cron.nextRun(new Date(after))?.getTime() ?? null,
    description: `cron "${expression}"${options.timezone ? ` (${options.timezone})` : ''}`,
  };
}

/** Every `intervalMs`, counted from `anchor` (the scheduler's start), so runs do not drift. */
export function everyTrigger(intervalMs: number, anchor: number, text = `${intervalMs} ms`): Trigger {
  return {
    next: (after) => anchor + (Math.floor((after - anchor) / intervalMs) + 1) * intervalMs,
    description: `every ${text}`,
  };
}

/** setTimeout's longest delay; longer waits are re-armed. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * Calls `due(time)` at each time of `trigger` from now on, until the returned function is
 * called. After a pause longer than a period (a suspended machine, a blocked event loop), the
 * runs missed meanwhile are dropped, not run in a burst: `due` gets the latest time only once.
 */
export function armTrigger(trigger: Trigger, due: (time: number) => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  let armed = true;
  const arm = (after: number) => {
    const target = trigger.next(after);
    if (target === null || !armed) return;
    timer = setTimeout(() => {
      const now = Date.now();
      // Timers may fire a little early against the wall clock, and long waits come in pieces.
      if (now < target) return arm(after);
      due(target);
      arm(Math.max(target, now));
    }, Math.min(Math.max(0, target - Date.now()), MAX_DELAY_MS));
  };
  arm(Date.now());
  return () => {
    armed = false;
    clearTimeout(timer);
  };
}
