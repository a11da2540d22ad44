/**
 * The phone-number rules: Vipps's Check-in API takes a Norwegian MSISDN, `47` followed by
 * eight digits, as a string. Only mobile numbers (first digit 4 or 9) can have the Vipps app;
 * other ranges are landlines and service numbers, and a foreign local number sent as one would
 * land on a stranger in Norway. Forms, CRMs and sheets hand over the same number in many
 * shapes; the common ones are normalised here, anything else is refused before a request is sent.
 */

export type PhoneNumberResult =
	| { valid: true; msisdn: string }
	| { valid: false; problem: string };

const NORWAY_COUNTRY_CODE = '47';
const NATIONAL_NUMBER_DIGITS = 8;
/** Norwegian mobile numbers start with 4 or 9; every other first digit is a landline or service range. */
const MOBILE_FIRST_DIGITS = /^[49]/;
/** Separators people type between digit groups: spaces (also non-breaking), dashes, dots, slashes, brackets. */
const SEPARATORS = /[\s\u00a0\u2000-\u200b\u202f\-\u2010-\u2015./()]/g;

/** Unicode decimal digits in any script; `\d` would see only 0–9. */
const ANY_DIGIT = /\p{Nd}/gu;

/**
 * Digits people paste from other keyboards, by the code point of their zero (every script keeps
 * its ten digits in a row). The others are named only as "another script".
 */
const DIGIT_SCRIPTS: ReadonlyArray<[zero: number, name: string]> = [
	[0xff10, 'full-width'],
	[0x0660, 'Arabic-Indic'],
	[0x06f0, 'Persian'],
	[0x0966, 'Devanagari'],
	[0x09e6, 'Bengali'],
	[0x0e50, 'Thai'],
];

/** `no digits`, `8 digits`, `8 digits in another script (full-width)`, `2 digits and 6 in another script (…)`. */
function describeDigits(text: string): string {
	const all = text.match(ANY_DIGIT) ?? [];
	const foreign = all.filter((digit) => digit < '0' || digit > '9');
	const ascii = all.length - foreign.length;
	const plural = (count: number) => `${count} digit${count === 1 ? '' : 's'}`;
	if (all.length === 0) return 'no digits';
	if (foreign.length === 0) return plural(ascii);
	const scripts = [...new Set(foreign.map(scriptOf).filter((name) => name !== undefined))];
	const inOther = `in another script${scripts.length ? ` (${scripts.join(', ')})` : ''}`;
	return ascii === 0 ? `${plural(foreign.length)} ${inOther}` : `${plural(ascii)} and ${foreign.length} ${inOther}`;
}

function scriptOf(digit: string): string | undefined {
	const codePoint = digit.codePointAt(0)!;
	return DIGIT_SCRIPTS.find(([zero]) => codePoint >= zero && codePoint <= zero + 9)?.[1];
}

/** Describes a value's shape for an error message, e.g. `the text "9123456" (7 digits)`. */
export function describeShape(value: unknown): string {
	if (value === null) return 'null';
	if (value === undefined) return 'nothing (the field is empty or the expression found no value)';
	if (typeof value === 'number') {
		if (!Number.isFinite(value)) return `the number ${value}`;
		return Number.isInteger(value) ? `the number ${value}` : `the number ${value}, which has a fractional part`;
	}
	if (typeof value === 'string') {
		if (value.trim() === '') return 'an empty text';
		const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
		const hasOther = /[^\p{Nd}\s\u00a0\u2000-\u200b\u202f\-\u2010-\u2015./()+]/u.test(value);
		return `the text "${shown}" (${describeDigits(value)}${hasOther ? ', with letters or other characters' : ''})`;
	}
	if (Array.isArray(value)) return `a list of ${value.length} value${value.length === 1 ? '' : 's'}`;
	return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * Normalises a Norwegian mobile number to the MSISDN Vipps expects (`4791234567`).
 * Accepts `+47 912 34 567`, `0047 91234567`, `(+47) 912-34-567`, `91234567`, `4791234567`,
 * and the same as a JSON number; refuses landline and service numbers (first digit not 4 or 9).
 */
export function normalizePhoneNumber(value: unknown): PhoneNumberResult {
	const fail = (why: string): PhoneNumberResult => ({
		valid: false,
		problem: `${why}; got ${describeShape(value)}`,
	});
	const mobileOnly = (national: string): PhoneNumberResult =>
		MOBILE_FIRST_DIGITS.test(national)
			? { valid: true, msisdn: NORWAY_COUNTRY_CODE + national }
			: fail(
					`Vipps needs a Norwegian mobile number, 8 digits starting with 4 or 9; this one starts with ${national[0]}, so it looks like a landline or service number`,
				);

	let text: string;
	if (typeof value === 'number') {
		if (!Number.isSafeInteger(value) || value < 0) return fail('Expected a Norwegian mobile number');
		text = String(value);
	} else if (typeof value === 'string') {
		text = value.trim();
	} else {
		return fail('Expected a Norwegian mobile number as text or a number');
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
	if (!/^[0-9]+$/.test(digits)) {
		if (/^\p{Nd}+$/u.test(digits)) return fail('Expected the digits 0–9');
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
		return mobileOnly(national);
	}
	if (digits.length === NATIONAL_NUMBER_DIGITS) return mobileOnly(digits);
	if (digits.length === NATIONAL_NUMBER_DIGITS + 2 && digits.startsWith(NORWAY_COUNTRY_CODE)) {
		return mobileOnly(digits.slice(NORWAY_COUNTRY_CODE.length));
	}
	return fail('Expected a Norwegian mobile number: 8 digits starting with 4 or 9, optionally with +47 or 0047 in front');
}
