import type { Command } from 'commander';

/**
 * The `tributary audit` command group: created by whichever audit command registers first and
 * found by the others, so each audit lives in its own file (audit-parity-command.ts, ...).
 */
export function auditGroup(program: Command): Command {
  return program.commands.find((command) => command.name() === 'audit') ?? program.command('audit').description('audits of what the engine stored and did (parity: stored features against a replay of their events)');
}
