import {
	InvalidCredentialsError,
	PACKAGE_NAME,
	PACKAGE_VERSION,
	VIPPS_BASE_URLS,
	merchantSerialNumberProblem,
	parseVippsCredentials,
	type VippsCredentials,
} from '../../nodes/VippsCheckIn/helpers/vippsCredentials';
import packageJson from '../../package.json';

const CLIENT_SECRET = 'CLIENT-SECRET-zq8Xv3Lk0Pw7';
const SUBSCRIPTION_KEY = 'SUBKEY-f00dfeedc0ffee4242';

function validData(overrides: Record<string, unknown> = {}): Record<string, unknown> {
	return {
		environment: 'production',
		clientId: 'client-id-1234',
		clientSecret: CLIENT_SECRET,
		subscriptionKey: SUBSCRIPTION_KEY,
		merchantSerialNumber: '123456',
		...overrides,
	};
}

/** Parses and returns the thrown InvalidCredentialsError; fails the test if parsing succeeds. */
function rejectionOf(data: Record<string, unknown>): InvalidCredentialsError {
	try {
		parseVippsCredentials(data);
	} catch (error) {
		expect(error).toBeInstanceOf(InvalidCredentialsError);
		return error as InvalidCredentialsError;
	}
	throw new Error('expected the credential to be rejected');
}

/** Everything of an error a user or a log could see. */
function everythingShown(error: InvalidCredentialsError): string {
	return [error.message, String(error), error.stack ?? '', ...error.problems, JSON.stringify(error)].join('\n');
}

describe('parseVippsCredentials: environment and base URL', () => {
	it('maps Production to https://api.vipps.no', () => {
		expect(parseVippsCredentials(validData()).baseUrl).toBe('https://api.vipps.no');
	});

	it('maps Test (MT) to https://apitest.vipps.no', () => {
		const credentials = parseVippsCredentials(validData({ environment: 'test' }));
		expect(credentials.baseUrl).toBe('https://apitest.vipps.no');
		expect(credentials.environment).toBe('test');
	});

	it('ignores a Custom Base URL unless Environment is Custom', () => {
		const credentials = parseVippsCredentials(validData({ customBaseUrl: 'http://127.0.0.1:9' }));
		expect(credentials.baseUrl).toBe(VIPPS_BASE_URLS.production);
	});

	it('rejects an unknown environment', () => {
		expect(rejectionOf(validData({ environment: 'staging' })).problems).toEqual([
			'Environment must be Production, Test (MT) or Custom Base URL',
		]);
	});

	it.each([
		['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
		['https://vipps.example.com', 'https://vipps.example.com'],
		['http://127.0.0.1:8080/', 'http://127.0.0.1:8080'],
		['http://localhost:8080///', 'http://localhost:8080'],
		['  https://vipps.example.com/  ', 'https://vipps.example.com'],
	])('takes the Custom Base URL %p as %p', (input, expected) => {
		const credentials = parseVippsCredentials(validData({ environment: 'custom', customBaseUrl: input }));
		expect(credentials.environment).toBe('custom');
		expect(credentials.baseUrl).toBe(expected);
	});

	it.each([undefined, '', '   '])('requires a Custom Base URL when Environment is Custom (%p)', (customBaseUrl) => {
		const error = rejectionOf(validData({ environment: 'custom', customBaseUrl }));
		expect(error.problems).toHaveLength(1);
		expect(error.problems[0]).toContain('Custom Base URL is empty');
	});

	it.each(['ftp://files.example.com', 'file:///etc/passwd', 'ws://127.0.0.1:8080', 'javascript:alert(1)'])(
		'rejects the non-HTTP Custom Base URL %p',
		(customBaseUrl) => {
			const error = rejectionOf(validData({ environment: 'custom', customBaseUrl }));
			expect(error.problems[0]).toContain('must start with http:// or https://');
		},
	);

	it('rejects a Custom Base URL that is not a URL', () => {
		const error = rejectionOf(validData({ environment: 'custom', customBaseUrl: 'localhost 8080' }));
		expect(error.problems[0]).toContain('is not a URL');
	});

	it('rejects a Custom Base URL with a user name and password, without repeating the password', () => {
		const error = rejectionOf(
			validData({ environment: 'custom', customBaseUrl: 'https://admin:hunter2-pw@vipps.example.com' }),
		);
		expect(error.problems[0]).toContain('must not contain a user name or password');
		expect(everythingShown(error)).not.toContain('hunter2-pw');
	});

	it.each([
		'http://127.0.0.1:8080/point-of-sale',
		'https://vipps.example.com/api/',
		'https://vipps.example.com/accesstoken/get',
		'https://vipps.example.com?tenant=1',
		'https://vipps.example.com/?',
		'https://vipps.example.com#top',
		'https://vipps.example.com/#',
	])('rejects the Custom Base URL %p: scheme, host and port only, no path, query or fragment', (customBaseUrl) => {
		const error = rejectionOf(validData({ environment: 'custom', customBaseUrl }));
		expect(error.problems).toEqual([
			`Custom Base URL must be scheme, host and port only (e.g. ${new URL(customBaseUrl).origin}), without a path, query or fragment`,
		]);
	});

	it('takes scheme and host in any case, and drops a default port', () => {
		expect(parseVippsCredentials(validData({ environment: 'custom', customBaseUrl: 'HTTPS://Vipps.Example.com:443' })).baseUrl).toBe('https://vipps.example.com');
	});

	it('rejects a Custom Base URL with only a user name', () => {
		const error = rejectionOf(validData({ environment: 'custom', customBaseUrl: 'https://admin@vipps.example.com' }));
		expect(error.problems[0]).toContain('must not contain a user name or password');
	});
});

describe('parseVippsCredentials: required keys', () => {
	it.each([
		['clientId', 'Client ID is empty'],
		['clientSecret', 'Client Secret is empty'],
		['subscriptionKey', 'Subscription Key (Ocp-Apim-Subscription-Key) is empty'],
	])('rejects an empty %s', (field, message) => {
		expect(rejectionOf(validData({ [field]: '' })).problems).toEqual([message]);
		expect(rejectionOf(validData({ [field]: '  \t ' })).problems).toEqual([message]);
	});

	it.each([
		['clientId', 'Client ID is missing'],
		['clientSecret', 'Client Secret is missing'],
		['subscriptionKey', 'Subscription Key (Ocp-Apim-Subscription-Key) is missing'],
	])('rejects a missing %s', (field, message) => {
		expect(rejectionOf(validData({ [field]: undefined })).problems).toEqual([message]);
	});

	it('rejects a key that is not text', () => {
		expect(rejectionOf(validData({ clientId: 12345 })).problems).toEqual(['Client ID must be text']);
	});

	it('lists every problem at once', () => {
		const error = rejectionOf({ environment: 'production', clientId: '', clientSecret: '', subscriptionKey: '' });
		expect(error.problems).toHaveLength(3);
		expect(error.message).toContain('Client ID is empty');
		expect(error.message).toContain('Subscription Key (Ocp-Apim-Subscription-Key) is empty');
	});
});

describe('parseVippsCredentials: header safety', () => {
	const fields: Array<[string, string]> = [
		['clientId', 'Client ID'],
		['clientSecret', 'Client Secret'],
		['subscriptionKey', 'Subscription Key'],
		['merchantSerialNumber', 'Merchant Serial Number'],
		['systemName', 'System Name'],
		['systemVersion', 'System Version'],
		['pluginName', 'Plugin Name'],
		['pluginVersion', 'Plugin Version'],
	];
	const injections: Array<[string, string]> = [
		['CR LF', 'abc\r\nX-Injected: 1'],
		['LF', 'abc\ndef'],
		['CR', 'abc\rdef'],
		['NUL', 'abc\u0000def'],
		['tab', 'abc\tdef'],
		['DEL', 'abc\u007fdef'],
		['trailing NUL', 'abcdef\u0000'],
	];

	for (const [field, label] of fields) {
		it.each(injections)(`rejects a ${label} containing %s`, (_name, value) => {
			const error = rejectionOf(validData({ [field]: value }));
			expect(error.problems.some((p) => p.startsWith(label) && p.includes('control character'))).toBe(true);
		});
	}

	it('accepts a line break that trimming removes (a pasted key ending in a newline)', () => {
		const credentials = parseVippsCredentials(validData({ subscriptionKey: `${SUBSCRIPTION_KEY}\r\n` }));
		expect(credentials.subscriptionKey).toBe(SUBSCRIPTION_KEY);
	});

	it('rejects a value the HTTP client cannot send in a header (a zero-width space pasted with the key)', () => {
		// undici refuses header values with characters above U+00FF (UND_ERR_INVALID_ARG), so such a value
		// must be caught here, named by its field, instead of failing every request later.
		const error = rejectionOf(validData({ subscriptionKey: `${SUBSCRIPTION_KEY}\u200b` }));
		expect(error.problems.some((p) => p.startsWith('Subscription Key'))).toBe(true);
		expect(everythingShown(error)).not.toContain(SUBSCRIPTION_KEY);
	});

	it.each([
		['systemName', 'System Name'],
		['systemVersion', 'System Version'],
		['pluginName', 'Plugin Name'],
		['pluginVersion', 'Plugin Version'],
	])('rejects a %s longer than 30 characters', (field, label) => {
		const error = rejectionOf(validData({ [field]: 'x'.repeat(31) }));
		expect(error.problems).toEqual([`${label} is longer than 30 characters (Vipps's limit)`]);
	});

	it('accepts Vipps-System-* values of exactly 30 characters', () => {
		const thirty = 'y'.repeat(30);
		const credentials = parseVippsCredentials(
			validData({ systemName: thirty, systemVersion: thirty, pluginName: thirty, pluginVersion: thirty }),
		);
		expect(Object.values(credentials.systemHeaders)).toEqual([thirty, thirty, thirty, thirty]);
	});

	it('judges the length after trimming', () => {
		const credentials = parseVippsCredentials(validData({ systemName: `  ${'z'.repeat(30)}  ` }));
		expect(credentials.systemHeaders['Vipps-System-Name']).toBe('z'.repeat(30));
	});
});

describe('parseVippsCredentials: secrets never appear in a message', () => {
	const secretVariants: Array<[string, Record<string, unknown>, string[]]> = [
		['secret with CR LF', { clientSecret: 'SeCrEt-CRLF-7781\r\nX-Evil: 1' }, ['SeCrEt-CRLF-7781', 'X-Evil']],
		['key with CR LF', { subscriptionKey: 'KeY-CRLF-5512\r\nHost: evil' }, ['KeY-CRLF-5512', 'Host: evil']],
		['secret with LF in the middle', { clientSecret: 'abcd-SECRET\nTAIL-9911' }, ['abcd-SECRET', 'TAIL-9911']],
		['secret with NUL', { clientSecret: 'NULSECRET-4411\u0000' }, ['NULSECRET-4411']],
		['key with control char', { subscriptionKey: 'BELKEY-3321\u0007' }, ['BELKEY-3321']],
		['secret not text', { clientSecret: 987654321012 }, ['987654321012']],
	];

	it.each(secretVariants)('does not echo a rejected %s', (_name, overrides, fragments) => {
		const shown = everythingShown(rejectionOf(validData(overrides)));
		for (const fragment of fragments) expect(shown).not.toContain(fragment);
	});

	it.each<[string, Record<string, unknown>]>([
		['an empty Client ID', { clientId: '' }],
		['a wrong MSN', { merchantSerialNumber: '12' }],
		['a long System Name', { systemName: 'x'.repeat(40) }],
		['a bad Custom Base URL', { environment: 'custom', customBaseUrl: 'ftp://x' }],
		['a bad environment', { environment: 'nowhere' }],
	])('does not echo the valid secrets when rejecting %s', (_name, overrides) => {
		const shown = everythingShown(rejectionOf(validData(overrides)));
		expect(shown).not.toContain(CLIENT_SECRET);
		expect(shown).not.toContain(SUBSCRIPTION_KEY);
	});

	it.each<[string, string]>([
		['merchantSerialNumber', SUBSCRIPTION_KEY],
		['systemName', CLIENT_SECRET + CLIENT_SECRET],
		['customBaseUrl', SUBSCRIPTION_KEY],
	])('does not echo a secret pasted into the wrong field (%s)', (field, pasted) => {
		const shown = everythingShown(rejectionOf(validData({ environment: 'custom', customBaseUrl: 'http://x', [field]: pasted })));
		expect(shown).not.toContain(SUBSCRIPTION_KEY);
		expect(shown).not.toContain(CLIENT_SECRET);
	});
});

describe('parseVippsCredentials: defaults and trimming', () => {
	let credentials: VippsCredentials;
	beforeEach(() => {
		credentials = parseVippsCredentials(validData());
	});

	it('names the system n8n by default', () => {
		expect(credentials.systemHeaders['Vipps-System-Name']).toBe('n8n');
	});

	it('names the plugin after this package, at this version, by default', () => {
		expect(credentials.systemHeaders['Vipps-System-Plugin-Name']).toBe(packageJson.name);
		expect(credentials.systemHeaders['Vipps-System-Plugin-Version']).toBe(packageJson.version);
		expect(PACKAGE_NAME).toBe(packageJson.name);
		expect(PACKAGE_VERSION).toBe(packageJson.version);
	});

	it('fits the default plugin name within the 30-character limit', () => {
		expect(credentials.systemHeaders['Vipps-System-Plugin-Name'].length).toBeLessThanOrEqual(30);
	});

	it("fills in the version of n8n's n8n-workflow library as the system version", () => {
		// n8n-workflow is released with n8n (2.41.0 inside n8n 2.41.1); a node cannot read n8n's own version.
		const { version } = require('n8n-workflow/package.json') as { version: string };
		expect(credentials.systemHeaders['Vipps-System-Version']).toBe(version);
		expect(version.length).toBeLessThanOrEqual(30);
	});

	it('uses the defaults for empty or blank Vipps-System-* values', () => {
		const blank = parseVippsCredentials(
			validData({ systemName: '', systemVersion: '  ', pluginName: ' ', pluginVersion: '' }),
		);
		expect(blank.systemHeaders).toEqual(credentials.systemHeaders);
	});

	it('keeps Vipps-System-* values the user set', () => {
		const custom = parseVippsCredentials(
			validData({ systemName: 'acme', systemVersion: '2.1', pluginName: 'loyalty', pluginVersion: '9.9.9' }),
		);
		expect(custom.systemHeaders).toEqual({
			'Vipps-System-Name': 'acme',
			'Vipps-System-Version': '2.1',
			'Vipps-System-Plugin-Name': 'loyalty',
			'Vipps-System-Plugin-Version': '9.9.9',
		});
	});

	it('trims every value', () => {
		const trimmed = parseVippsCredentials(
			validData({
				clientId: '  client-id-1234 ',
				clientSecret: `\t${CLIENT_SECRET}  `,
				subscriptionKey: ` ${SUBSCRIPTION_KEY}\n`,
				merchantSerialNumber: ' 123456 ',
				systemName: ' acme ',
			}),
		);
		expect(trimmed.clientId).toBe('client-id-1234');
		expect(trimmed.clientSecret).toBe(CLIENT_SECRET);
		expect(trimmed.subscriptionKey).toBe(SUBSCRIPTION_KEY);
		expect(trimmed.merchantSerialNumber).toBe('123456');
		expect(trimmed.systemHeaders['Vipps-System-Name']).toBe('acme');
	});

	it('returns the keys as given', () => {
		expect(credentials).toMatchObject({
			environment: 'production',
			clientId: 'client-id-1234',
			clientSecret: CLIENT_SECRET,
			subscriptionKey: SUBSCRIPTION_KEY,
			merchantSerialNumber: '123456',
		});
	});
});

describe('parseVippsCredentials: Merchant Serial Number', () => {
	it.each(['1234', '12345', '123456', '1234567'])('accepts %p (4 to 7 digits)', (msn) => {
		expect(parseVippsCredentials(validData({ merchantSerialNumber: msn })).merchantSerialNumber).toBe(msn);
	});

	it.each(['123', '12345678', '12a456', '123 456', '-12345', '１２３４５６'])('rejects %p', (msn) => {
		const error = rejectionOf(validData({ merchantSerialNumber: msn }));
		expect(error.problems).toHaveLength(1);
		expect(error.problems[0]).toMatch(/^Merchant Serial Number must be 4 to 7 digits/);
	});

	it.each([undefined, '', '   '])('omits an empty MSN (%p) rather than sending an empty header', (msn) => {
		const credentials = parseVippsCredentials(validData({ merchantSerialNumber: msn }));
		expect(credentials.merchantSerialNumber).toBeUndefined();
	});

	it('describes a wrong MSN by its length and digit count', () => {
		expect(merchantSerialNumberProblem('12a45')).toContain('got 5 characters, 4 of them digits');
		expect(merchantSerialNumberProblem('123456')).toBeUndefined();
	});
});
