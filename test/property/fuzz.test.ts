/**
 * The property-based run, in the suite: a fixed seed and a size that keeps it within a minute on a
 * 2-core machine. Each case is input items of every shape, the node's parameters as plain values
 * or expressions, batch options valid and not, each On Error setting, and faults per request from
 * the simulator; every invariant in scripts/fuzz/invariants.ts is checked on it through n8n's
 * engine. `npm run fuzz -- --cases N --seed S` runs the same property as long as asked.
 */
import fc from 'fast-check';

import { emptyStats, fuzzProperty, generatorFor } from '../../scripts/fuzz/property';

const SEED = 20_261_206;
const CASES = 200;
const MAX_ITEMS = 5;
/**
 * Cases run side by side, each with its own simulator, keys, numbers and node id: most of a case's
 * time is spent waiting (Retry-After, the Timeout, backoff), not computing. Runner w takes the seed
 * SEED + w.
 */
const RUNNERS = 4;

const skip = new Set<string>();

test(`${CASES} generated cases hold every invariant (seeds ${SEED} to ${SEED + RUNNERS - 1})`, async () => {
	const stats = emptyStats();
	const property = fuzzProperty({ ...generatorFor(skip, MAX_ITEMS), skip, stats });
	await Promise.all(Array.from({ length: RUNNERS }, (_, runner) => fc.assert(property, { seed: SEED + runner, numRuns: CASES / RUNNERS })));
	expect(stats.cases).toBe(CASES);

	// The seeds reach every kind of fault the simulator injects, on the check-in and on the token request.
	const injected = Object.keys(stats.faults);
	for (const kind of ['reset', 'dropped', 'hang (past the Timeout)', 'hang, then reset', 'status 500', 'status 502', 'status 503', 'status 504', 'badRequest', 'redirect', 'malformedJson', 'expiredToken', 'latency']) {
		expect(injected).toContain(`check-in: ${kind}`);
	}
	for (const form of ['delta-seconds', 'imf-fixdate', 'rfc850', 'asctime']) {
		expect(injected.some((kind) => kind.startsWith(`check-in: 429 Retry-After ${form}`))).toBe(true);
	}
	expect(injected).toContain('check-in: 429 without Retry-After');
	expect(injected.filter((kind) => kind.startsWith('check-in: body breaks off'))).not.toEqual([]);
	expect(injected.filter((kind) => kind.startsWith('token: '))).not.toEqual([]);
	expect(injected.some((kind) => /^check-in: 429 Retry-After \S+ 0$/.test(kind))).toBe(true);
	expect(stats.refusedConnections).toBeGreaterThan(0);
	expect(stats.closedPorts).toBeGreaterThan(0);
	expect(stats.secondRuns).toBeGreaterThan(0);
	expect(stats.cancelled).toBeGreaterThan(0);
	expect(stats.checkInRequests).toBeGreaterThan(CASES);
}, 600_000);
