import type { CheckpointCodec } from '../state/redis-checkpoint-store.ts';
import { isSealedBytes, openBytes, sealBytes } from './envelope.ts';
import type { Keyring } from './keyring.ts';

/**
 * Durable window checkpoints sealed under the checkpoint key: open windows hold subject ids
 * (their keys) and sums of amounts, which must not rest in Redis in clear. A checkpoint saved
 * before protection was turned on still loads (it is not sealed); the next save seals it.
 */
export function sealedCheckpoints(keyring: Keyring): CheckpointCodec {
  const { key, version } = keyring.checkpointKey;
  return {
    encode: (bytes) => sealBytes(bytes, key, version, 'checkpoint'),
    decode: (bytes) => (isSealedBytes(bytes) ? openBytes(bytes, key, 'checkpoint') : bytes),
  };
}
