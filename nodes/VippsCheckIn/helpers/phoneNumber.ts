/**
 * The phone-number rules: Vipps's Check-in API takes a Norwegian MSISDN, `47` followed by
 * eight digits, as a string. Forms, CRMs and sheets hand over the same number in many shapes;
 * the common ones are normalised here, anything else is refused before a request is sent.
 */

export type PhoneNumberResult =
	| { valid: true; msisdn: string }
	| { valid: false; problem: string };

const NORWAY_COUNTRY_CODE = '47';
const NATIONAL_NUMBER_DIGITS = 8;
/** Separators people type between digit groups: spaces (also non-breaking), dashes, dots, slashes, brackets. */
const SEPARATORS = /[\s\u00a0\u2000-\u200b\u202f\-\u2010-\u2015./()]/g;

/** Describes a value's shape for an error message, e.g. `a string of 7 digits`. */
export function describeShape(value: unknown): string {
	if (value === null) return 'null';
	if (value === undefined) return 'nothing (the field is empty or the expression found no value)';
	if (typeof value === 'number') {
		if (!Number.isFinite(value)) return `the number ${value}`;
		return Number.isInteger(value) ? `the number ${value}` : `the number ${value}, which has a fractional part`;
	}
	if (typeof value === 'string') {
		if (value.trim() === '') return 'an empty text';
		const digits = value.replace(/\D/g, '').length;
		const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
		const hasOther = /[^\d\s\u00a0\u2000-\u200b\u202f\-\u2010-\u2015./()+]/.test(value);
		const count = digits === 0 ? 'no digits' : `${digits} digit${digits === 1 ? '' : 's'}`;
		return `the text "${shown}" (${count}${hasOther ? ', with letters or other characters' : ''})`;
	}
	if (Array.isArray(value)) return `a list of ${value.length} value${value.length === 1 ? '' : 's'}`;
	return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * Normalises a Norwegian phone number to the MSISDN Vipps expects (`4791234567`).
 * Accepts `+47 912 34 567`, `0047 91234567`, `(+47) 912-34-567`, `91234567`, `4791234567`,
 * and the same as a JSON number.
 */
export function normalizePhoneNumber(value: unknown): PhoneNumberResult {
	const fail = (why: string): PhoneNumberResult => ({
		valid: false,
		problem: `${why}; got ${describeShape(value)}`,
	});

	let text: string;
	if (typeof value === 'number') {
		if (!Number.isSafeInteger(value) || value < 0) return fail('Expected a Norwegian phone number');
		text = String(value);
	} else if (typeof value === 'string') {
		text = value.trim();
	} else {
		return fail('Expected a Norwegian phone number as text or a number');
	}
	if (text === '') return fail('Phone number is empty');

	const compact = text.replace(SEPARATORS, '');
	let international: boolean;
	let digits: string;
	if (compact.startsWith('+')) {
		international = true;
		digits = compact.slice(1);
	} else if (compact.startsWith('00')) {
		international = true;
		digits = compact.slice(2);
	} else {
		international = false;
		digits = compact;
	}
	if (!/^\d+$/.test(digits)) {
		return fail('Expected only digits, spaces, dashes, dots, brackets and a leading + or 00');
	}

	if (international) {
		if (!digits.startsWith(NORWAY_COUNTRY_CODE)) {
			return fail('Vipps Check-in only works with Norwegian numbers (country code +47)');
		}
		const national = digits.slice(NORWAY_COUNTRY_CODE.length);
		if (national.length !== NATIONAL_NUMBER_DIGITS) {
			return fail(`Expected 8 digits after the country code +47, found ${national.length}`);
		}
		return { valid: true, msisdn: digits };
	}
	if (digits.length === NATIONAL_NUMBER_DIGITS) {
		return { valid: true, msisdn: NORWAY_COUNTRY_CODE + digits };
	}
	if (digits.length === NATIONAL_NUMBER_DIGITS + 2 && digits.startsWith(NORWAY_COUNTRY_CODE)) {
		return { valid: true, msisdn: digits };
	}
	return fail('Expected a Norwegian phone number: 8 digits, optionally with +47 or 0047 in front');
}
