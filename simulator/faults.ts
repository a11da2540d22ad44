import { isJsonObject } from './http';
import type { Fault, FaultRule } from './types';

interface ActiveRule {
	fault: Fault;
	path?: string;
	phoneNumber?: string;
	remaining: number;
}

/** Injected faults, consulted in the order added; each rule is used up after `times` matching requests. */
export class FaultBook {
	private rules: ActiveRule[] = [];

	add({ fault, path, phoneNumber, times = 1 }: FaultRule): void {
		if (times !== Infinity && !(Number.isInteger(times) && times >= 1)) {
			throw new RangeError(`times must be a whole number of at least 1, or Infinity; got ${times}`);
		}
		this.rules.push({ fault: { ...fault }, path, phoneNumber, remaining: times });
	}

	clear(): void {
		this.rules = [];
	}

	/** The fault for this request, if a rule matches; counts the use. */
	take(path: string, body: unknown): Fault | undefined {
		const rule = this.rules.find((candidate) => matches(candidate, path, body));
		if (rule === undefined) return undefined;
		rule.remaining -= 1;
		if (rule.remaining <= 0) this.rules = this.rules.filter((candidate) => candidate !== rule);
		return rule.fault;
	}
}

function matches(rule: ActiveRule, path: string, body: unknown): boolean {
	if (rule.path !== undefined && rule.path !== path) return false;
	return rule.phoneNumber === undefined || (isJsonObject(body) && body.phoneNumber === rule.phoneNumber);
}
