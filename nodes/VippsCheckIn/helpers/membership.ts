/**
 * The Is Member flag as real inputs carry it: a boolean from a checkbox, or the words a form,
 * a CRM or a sheet uses for yes and no (English and Norwegian). Anything else is refused:
 * guessing could tell a customer they are a member when they are not.
 */
import { describeShape } from './phoneNumber';

export type MembershipResult = { valid: true; isMember: boolean } | { valid: false; problem: string };

const YES = new Set(['true', 'yes', 'y', '1', 'ja', 'j', 'on', 'member']);
const NO = new Set(['false', 'no', 'n', '0', 'nei', 'off']);

export function parseMembershipFlag(value: unknown): MembershipResult {
	if (typeof value === 'boolean') return { valid: true, isMember: value };
	if (value === 1 || value === 0) return { valid: true, isMember: value === 1 };
	if (typeof value === 'string') {
		const word = value.trim().toLowerCase();
		if (YES.has(word)) return { valid: true, isMember: true };
		if (NO.has(word)) return { valid: true, isMember: false };
	}
	return {
		valid: false,
		problem: `Expected true or false (or yes/no, ja/nei, 1/0); got ${describeShape(value)}`,
	};
}
