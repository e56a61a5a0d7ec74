import { randomInt } from 'node:crypto';

/**
 * Every short fuzz test runs twice: with a fixed seed (the same inputs every run) and with a fresh
 * random one, written into the test's name so a failure can be replayed with `npm run fuzz -- --seed`.
 */
export const FUZZ_SEEDS = [20_260_101, randomInt(2 ** 31)] as const;
