/**
 * `tributary/testing`: run a topology's pipeline on an array (same clock and windows, no
 * brokers), and the seeded demo data the example topologies and tests use.
 */
export { runOnArray, type ArrayRunResult, type ArrayRunOptions } from './topology/run-on-array.ts';
export { CardPaymentModel, shiftedCard, type Payment, type AmountShift, type CardPaymentOptions } from './sources/generator/card-payments.ts';
export { chargebackFor, chargebacksOf, type Chargeback } from './sources/generator/chargebacks.ts';
export { MemoryKeyValueStore } from './state/memory-store.ts';
export { MemoryCheckpointStore } from './state/checkpoint-store.ts';
