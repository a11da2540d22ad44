/**
 * A credential target: base URL and keys, hashed (no secret in readable form), not the MSN: Vipps
 * checks the MSN per request, so one token and one gateway quota serve every MSN. The token cache
 * and the pacer keep one entry per target per n8n process.
 */
import { createHash } from 'crypto';

import type { VippsCredentials } from '../helpers/vippsCredentials';

const targets = new WeakMap<VippsCredentials, string>();

/** Hashed once per credentials object (one per execution): the token and the pacer ask on every attempt. */
export function targetOf(credentials: VippsCredentials): string {
	let target = targets.get(credentials);
	if (target === undefined) {
		const { baseUrl, clientId, clientSecret, subscriptionKey } = credentials;
		target = createHash('sha256').update(JSON.stringify([baseUrl, clientId, clientSecret, subscriptionKey])).digest('hex');
		targets.set(credentials, target);
	}
	return target;
}

/** A process serves a handful of targets; rotated secrets and typos must not pile up. */
export const MAX_TARGETS = 100;

/** Puts `key` last (most recently used) in `map` and drops the least recently used beyond `max`. */
export function remember<V>(map: Map<string, V>, key: string, value: V, max = MAX_TARGETS): V {
	map.delete(key);
	map.set(key, value);
	for (const oldest of map.keys()) {
		if (map.size <= max) break;
		map.delete(oldest);
	}
	return value;
}
