/** A rejected input, named as the APIs name it in their 400 answers. */
export interface InvalidParam {
	name: string;
	reason: string;
}

// The access-token contract says 4–6 digits; sales units created after the MobilePay merger carry
// up to 7 (NOTES §3), so 7 is accepted here rather than lock those merchants out.
const MSN_PATTERN = /^[0-9]{4,7}$/;
const SYSTEM_HEADER_MAX_LENGTH = 30;
const SYSTEM_HEADERS = [
	'Vipps-System-Name',
	'Vipps-System-Version',
	'Vipps-System-Plugin-Name',
	'Vipps-System-Plugin-Version',
];

/** Checks the optional headers every Vipps API shares: Merchant-Serial-Number and Vipps-System-*. */
export function checkVippsHeaders(headers: Record<string, string>): InvalidParam[] {
	const problems: InvalidParam[] = [];
	const msn = headers['merchant-serial-number'];
	if (msn !== undefined && !MSN_PATTERN.test(msn)) {
		problems.push({ name: 'Merchant-Serial-Number', reason: 'The Merchant-Serial-Number must be 4 to 7 digits.' });
	}
	for (const name of SYSTEM_HEADERS) {
		const value = headers[name.toLowerCase()];
		if (value !== undefined && value.length > SYSTEM_HEADER_MAX_LENGTH) {
			problems.push({ name, reason: `The ${name} header must be at most ${SYSTEM_HEADER_MAX_LENGTH} characters.` });
		}
	}
	return problems;
}
