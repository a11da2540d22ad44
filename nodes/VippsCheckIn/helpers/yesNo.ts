/**
 * Yes or no as real inputs carry it: a boolean from a checkbox or toggle, or the words a form,
 * a CRM or a sheet uses for yes and no (English and Norwegian). Anything else is refused:
 * guessing could tell a customer they are a member when they are not, or send for real when
 * the builder meant a dry run.
 */
import { describeShape } from './phoneNumber';

export type YesNoResult = { valid: true; yes: boolean } | { valid: false; problem: string };

const YES = new Set(['true', 'yes', 'y', '1', 'ja', 'j', 'on']);
const NO = new Set(['false', 'no', 'n', '0', 'nei', 'off']);

export function parseYesNo(value: unknown): YesNoResult {
	if (typeof value === 'boolean') return { valid: true, yes: value };
	if (value === 1 || value === 0) return { valid: true, yes: value === 1 };
	if (typeof value === 'string') {
		const word = value.trim().toLowerCase();
		if (YES.has(word)) return { valid: true, yes: true };
		if (NO.has(word)) return { valid: true, yes: false };
	}
	return {
		valid: false,
		problem: `Expected true or false (or yes/no, ja/nei, 1/0); got ${describeShape(value)}`,
	};
}
