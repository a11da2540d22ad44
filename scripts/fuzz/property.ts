/**
 * The property-based run: fast-check generates cases (model.ts), each runs through n8n's engine
 * against the simulator (runCase.ts), and every invariant (invariants.ts) is checked on it. The
 * in-suite test (test/property) and `npm run fuzz` (scripts/fuzz/run.ts) both run this.
 */
import fc from 'fast-check';

import { PATHS, type Fault } from '../../simulator/VippsSimulator';
import { INVARIANT_NAMES, checkInvariants, type InvariantName, type Violation } from './invariants';
import { caseArbitrary, type FuzzCase, type GeneratorOptions } from './model';
import { runCase, type Observation } from './runCase';

export interface FuzzStats {
	cases: number;
	items: number;
	requests: number;
	tokenRequests: number;
	checkInRequests: number;
	refusedConnections: number;
	closedPorts: number;
	closedGateways: number;
	/** Cases whose execution was cancelled while it ran. */
	cancelled: number;
	/** Cases whose node ran the same items a second time (Skip Repeats). */
	secondRuns: number;
	/** Cases n8n refused to run (a required parameter left empty): the node never ran. */
	refusedByN8n: number;
	/** Faults injected, by kind (429s by their Retry-After form). */
	faults: Record<string, number>;
	/** Faults the simulator actually applied, by kind. */
	faultsMet: Record<string, number>;
	invariantChecks: number;
	violations: Record<string, number>;
	elapsedMs: number;
	slowestCaseMs: number;
}

export function emptyStats(): FuzzStats {
	return {
		cases: 0,
		items: 0,
		requests: 0,
		tokenRequests: 0,
		checkInRequests: 0,
		refusedConnections: 0,
		closedPorts: 0,
		closedGateways: 0,
		refusedByN8n: 0,
		secondRuns: 0,
		cancelled: 0,
		faults: {},
		faultsMet: {},
		invariantChecks: 0,
		violations: {},
		elapsedMs: 0,
		slowestCaseMs: 0,
	};
}

function faultName(fault: Fault): string {
	switch (fault.kind) {
		case 'status':
			if (fault.status !== 429) return `status ${fault.status}`;
			return fault.retryAfterSeconds === undefined ? '429 without Retry-After' : `429 Retry-After ${fault.retryAfterForm ?? 'delta-seconds'} ${fault.retryAfterSeconds}`;
		case 'hang':
			return fault.ms === undefined ? 'hang (past the Timeout)' : 'hang, then reset';
		case 'partialBody':
			return `body breaks off (${fault.status ?? 200}, ${fault.end ?? 'hang'})`;
		default:
			return fault.kind;
	}
}

const bump = (counts: Record<string, number>, key: string, by = 1) => {
	counts[key] = (counts[key] ?? 0) + by;
};

function record(stats: FuzzStats, obs: Observation, checked: number, violations: Violation[]): void {
	const { fuzzCase } = obs;
	stats.cases++;
	stats.items += fuzzCase.items.length;
	const requests = [...obs.requests, ...(obs.second?.requests ?? [])];
	const checkIns = requests.filter((request) => request.path === PATHS.checkIn);
	stats.requests += requests.length;
	stats.checkInRequests += checkIns.length;
	stats.tokenRequests += requests.length - checkIns.length;
	if (obs.second) stats.secondRuns++;
	if (obs.cancelledAt !== undefined) stats.cancelled++;
	stats.refusedConnections += obs.refusedConnections;
	if (fuzzCase.closedPortMs !== undefined) stats.closedPorts++;
	if (fuzzCase.closedGateway) stats.closedGateways++;
	if (obs.refusedByN8n !== undefined) stats.refusedByN8n++;
	for (const fault of fuzzCase.tokenFaults) bump(stats.faults, `token: ${faultName(fault)}`);
	for (const item of fuzzCase.items) for (const fault of item.faults) bump(stats.faults, `check-in: ${faultName(fault)}`);
	for (const request of obs.requests) if (request.fault) bump(stats.faultsMet, request.fault);
	stats.invariantChecks += checked;
	for (const violation of violations) bump(stats.violations, violation.invariant);
	stats.elapsedMs += obs.elapsedMs;
	stats.slowestCaseMs = Math.max(stats.slowestCaseMs, obs.elapsedMs);
}

export interface CaseVerdict {
	observation: Observation;
	violations: Violation[];
}

export interface CheckOptions {
	skip?: ReadonlySet<string>;
	/** Default: deadlineFor(case). */
	deadlineMs?: number;
	stats?: FuzzStats;
}

/** Runs one case and checks every invariant not skipped. */
export async function checkCase(fuzzCase: FuzzCase, { skip = new Set(), deadlineMs, stats }: CheckOptions = {}): Promise<CaseVerdict> {
	const observation = await runCase(fuzzCase, { deadlineMs });
	const { violations, checked } = checkInvariants(observation, skip);
	if (stats) record(stats, observation, checked, violations);
	return { observation, violations };
}

/** The error a failing case throws: every violation, one a line, so fast-check's report says what broke. */
export class InvariantViolation extends Error {
	constructor(readonly violations: Violation[]) {
		super(violations.map((v) => `[${v.invariant}] ${v.message}`).join('\n'));
		this.name = 'InvariantViolation';
	}
}

export interface PropertyOptions extends GeneratorOptions, CheckOptions {}

/** The property: a case holds when no invariant (outside `skip`) is violated. */
export function fuzzProperty(options: PropertyOptions): fc.IAsyncPropertyWithHooks<[FuzzCase]> {
	return fc.asyncProperty(caseArbitrary(options), async (fuzzCase) => {
		const { violations } = await checkCase(fuzzCase, options);
		if (violations.length) throw new InvariantViolation(violations);
	});
}

/** Generator settings that fit the skipped invariants: a closed gateway is generated only when its invariant is checked. */
export function generatorFor(skip: ReadonlySet<string>, maxItems: number): GeneratorOptions {
	return { maxItems, closedGateway: !skip.has('closedGatewayAtOnce') };
}

export { INVARIANT_NAMES };
export type { FuzzCase, InvariantName, Violation };
