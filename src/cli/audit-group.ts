import type { Command } from 'commander';

/**
 * The `tributary audit` command group: created by whichever audit command registers first and
 * found by the others, so each audit lives in its own file (audit-command.ts: verify and show;
 * audit-parity-command.ts: parity), in any order.
 */
export function auditGroup(program: Command): Command {
  return program.commands.find((command) => command.name() === 'audit') ?? program.command('audit').description('the audit trail (verify its hash chain, show its entries) and the parity of stored features with a replay of their events');
}
