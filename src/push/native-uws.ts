import uWS from 'uWebSockets.js';
import { TributaryError } from '../core/errors.ts';

/**
 * The uWebSockets.js package we install (@trufflesuite/uws-js-unofficial 20.30) ships native binaries
 * for Node 16/18/20 only; on any other ABI, or with UWS_USE_FALLBACK set, it silently swaps in a slow
 * `ws`-based shim. `getParts` exists only in the native addon, so its absence means the shim: refuse.
 */
export function nativeUws(): typeof uWS {
  if (typeof uWS.getParts !== 'function') {
    const forced = process.env.UWS_USE_FALLBACK ? ` (UWS_USE_FALLBACK=${process.env.UWS_USE_FALLBACK})` : '';
    throw new TributaryError(
      `uWebSockets.js loaded its slow ws fallback instead of the native addon on Node ${process.versions.node} ` +
        `(ABI ${process.versions.modules})${forced}. Fix: run Tributary on Node 20 (the addon has binaries for Node 16, 18 ` +
        'and 20 only) and leave UWS_USE_FALLBACK unset.',
      { retriable: false, code: 'UWS_NOT_NATIVE' },
    );
  }
  return uWS;
}
