import { redactSecrets } from '../../nodes/VippsCheckIn/transport';
import type { Failure } from '../../nodes/VippsCheckIn/transport/retryPolicy';
import {
	VippsError,
	explainApiFailure,
	explainTokenFailure,
	explainTransportFailure,
	parseJsonBody,
	redirectError,
	withAttempts,
	closedGatewayError,
	type ApiCallContext,
} from '../../nodes/VippsCheckIn/helpers/vippsErrors';

const PRODUCTION = 'https://api.vipps.no';

const subscriptionKeyBody = {
	statusCode: 401,
	message: 'Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.',
};

const unknownClientBody = {
	error: 'unauthorized_client',
	error_description:
		"AADSTS700016: Application with identifier '00000000-0000-0000-0000-000000000000' was not found in the directory.",
	trace_id: 'trace-1',
};

const wrongSecretBody = {
	error: 'invalid_client',
	error_description: 'AADSTS7000215: Invalid client secret provided.',
	trace_id: 'trace-2',
};

function checkInContext(overrides: Partial<ApiCallContext> = {}): ApiCallContext {
	return {
		what: 'the check-in',
		environment: 'production',
		baseUrl: PRODUCTION,
		productionOnly: true,
		...overrides,
	};
}

describe('explainTokenFailure', () => {
	it('blames the Subscription Key for the gateway 401 about the subscription key', () => {
		const error = explainTokenFailure(401, subscriptionKeyBody, PRODUCTION);
		expect(error).toBeInstanceOf(VippsError);
		expect(error.message).toBe('Vipps rejected the Subscription Key (Ocp-Apim-Subscription-Key)');
		expect(error.details.description).toContain("Check the credential's Subscription Key");
		expect(error.details.httpCode).toBe('401');
		expect(error.details.vippsResponse).toEqual(subscriptionKeyBody);
	});

	it('blames the Subscription Key for a 403 about a missing subscription key', () => {
		const error = explainTokenFailure(
			403,
			{ statusCode: 403, message: 'Access denied due to missing subscription key.' },
			PRODUCTION,
		);
		expect(error.message).toContain('Subscription Key');
		expect(error.details.httpCode).toBe('403');
	});

	it('blames the Client ID for unauthorized_client / AADSTS700016', () => {
		const error = explainTokenFailure(401, unknownClientBody, PRODUCTION);
		expect(error.message).toBe('Vipps does not know this Client ID');
		expect(error.details.description).toContain("Check the credential's Client ID");
		expect(error.details.description).toContain('Test (MT)');
	});

	it('recognises AADSTS700016 even without the error code', () => {
		const error = explainTokenFailure(400, { error_description: 'AADSTS700016: not found' }, PRODUCTION);
		expect(error.message).toContain('Client ID');
	});

	it('blames the Client Secret for invalid_client / AADSTS7000215', () => {
		const error = explainTokenFailure(401, wrongSecretBody, PRODUCTION);
		expect(error.message).toBe('Vipps rejected the Client Secret');
		expect(error.details.description).toContain("Check the credential's Client Secret");
		expect(error.details.vippsResponse).toEqual(wrongSecretBody);
	});

	it('passes on the reason of a 400 and points at the MSN and system headers', () => {
		const error = explainTokenFailure(
			400,
			{ error: 'invalid_request', error_description: 'Merchant-Serial-Number is not valid' },
			PRODUCTION,
		);
		expect(error.message).toBe('Vipps refused the access token request (400 Bad Request)');
		expect(error.details.description).toContain('Merchant-Serial-Number is not valid');
		expect(error.details.description).toContain('Merchant Serial Number');
		expect(error.details.httpCode).toBe('400');
	});

	it('says no reason was given for a 400 without a body', () => {
		expect(explainTokenFailure(400, undefined, PRODUCTION).details.description).toContain('No reason was given.');
	});

	it('names the base URL for a 404 (wrong environment or custom URL)', () => {
		const error = explainTokenFailure(404, undefined, 'http://127.0.0.1:9999');
		expect(error.message).toContain('http://127.0.0.1:9999');
		expect(error.message).toContain('404');
		expect(error.details.description).toContain('Custom Base URL');
	});

	it('reports a 429 as the token request throttled, without advice about Concurrency (it is one shared request)', () => {
		const body = { statusCode: 429, message: 'Rate limit is exceeded. Try again in 2 seconds.' };
		const error = explainTokenFailure(429, body, PRODUCTION);
		expect(error.message).toBe('Vipps kept throttling the access token request (429 Too Many Requests)');
		expect(error.details.description).not.toMatch(/Concurrency|Max Requests per Second/);
		expect(error.details.description).toContain('one request shared by every execution');
		expect(error.details.httpCode).toBe('429');
	});

	it.each([502, 503, 504])('reports a %i as a brief outage', (status) => {
		const error = explainTokenFailure(status, undefined, PRODUCTION);
		expect(error.message).toContain(`HTTP ${status}`);
		expect(error.message).toContain('unavailable');
		expect(error.details.httpCode).toBe(String(status));
	});

	it('points at all three keys for a bare 401', () => {
		const error = explainTokenFailure(401, undefined, PRODUCTION);
		expect(error.message).toBe('Vipps rejected the API keys (HTTP 401)');
		for (const key of ['Client ID', 'Client Secret', 'Subscription Key']) {
			expect(error.details.description).toContain(key);
		}
	});

	it('reports any other status as a failure to issue a token', () => {
		const error = explainTokenFailure(500, 'oops', PRODUCTION);
		expect(error.message).toBe('Vipps could not process the access token request (HTTP 500)');
		expect(error.details.vippsResponse).toBe('oops');
	});
});

describe('explainApiFailure', () => {
	it('lists the invalidParams of an RFC 7807 400 in the description', () => {
		const body = {
			type: 'https://example.com/problem',
			title: 'Bad Request',
			detail: 'One or more validation errors occurred.',
			instance: '/point-of-sale/v1/loyalty-check-in',
			invalidParams: [
				{ name: 'phoneNumber', reason: "must match '^47[0-9]{8}$'" },
				{ name: 'isMember', reason: 'is required' },
			],
		};
		const error = explainApiFailure(400, body, checkInContext());
		expect(error.message).toBe('Vipps rejected the check-in: Bad Request');
		expect(error.details.description.split('\n')).toEqual([
			"phoneNumber: must match '^47[0-9]{8}$'",
			'isMember: is required',
			'One or more validation errors occurred.',
		]);
		expect(error.details.httpCode).toBe('400');
		expect(error.details.vippsResponse).toEqual(body);
	});

	it("lists the QR API's extraDetails of a 400", () => {
		const body = {
			title: 'Invalid QR',
			status: 400,
			detail: 'BadRequest',
			extraDetails: [{ name: 'qrCode', reason: 'The QR code is not a personal QR code' }],
		};
		const error = explainApiFailure(400, body, checkInContext({ what: 'the QR code exchange', productionOnly: false }));
		expect(error.message).toBe('Vipps rejected the QR code exchange: Invalid QR');
		expect(error.details.description).toBe('qrCode: The QR code is not a personal QR code');
	});

	it('copes with a 400 whose params lack names or reasons', () => {
		const error = explainApiFailure(400, { invalidParams: [{}, null, { name: 'x' }] }, checkInContext());
		expect(error.details.description.split('\n')).toEqual(['?: invalid', '?: invalid', 'x: invalid']);
	});

	it('says Vipps gave no reason for a 400 without a body', () => {
		const error = explainApiFailure(400, undefined, checkInContext());
		expect(error.message).toBe('Vipps rejected the check-in: Bad Request');
		expect(error.details.description).toBe('Vipps gave no further reason.');
	});

	it('explains a 401 that a fresh token did not cure as a missing API activation or MSN mismatch', () => {
		const error = explainApiFailure(401, undefined, checkInContext());
		expect(error.message).toBe('Vipps refused the check-in (HTTP 401), even with a fresh access token');
		expect(error.details.description).toContain('activate the API');
		expect(error.details.description).toContain('Merchant Serial Number');
	});

	it('says what to do about a 403 and does not claim a token was renewed (nothing is renewed on 403)', () => {
		const error = explainApiFailure(403, undefined, checkInContext());
		expect(error.message).toBe('Vipps refused the check-in (HTTP 403): these keys may not use this API or this Merchant Serial Number');
		expect(error.message).not.toContain('fresh access token');
		expect(error.details.description).toContain('activate the API');
		expect(error.details.description).toContain('Merchant Serial Number belongs to the same sales unit as the keys');
		expect(error.details.httpCode).toBe('403');
	});

	it.each([401, 403])('blames the Subscription Key for a gateway %i about it', (status) => {
		const error = explainApiFailure(status, subscriptionKeyBody, checkInContext());
		expect(error.message).toContain('Subscription Key');
	});

	it('says Check-in only works in production for a 500 from the Test environment', () => {
		const error = explainApiFailure(500, undefined, checkInContext({ environment: 'test', baseUrl: 'https://apitest.vipps.no' }));
		expect(error.message).toContain('only works in production');
		expect(error.details.description).toContain('Production');
		expect(error.details.description).toContain('simulator');
		expect(error.details.httpCode).toBe('500');
	});

	it('treats a production 500 as a server fault, not as the Test-environment rule', () => {
		const error = explainApiFailure(500, undefined, checkInContext());
		expect(error.message).toBe('Vipps could not process the check-in (HTTP 500)');
		expect(error.message).not.toContain('only works in production');
		expect(error.details.httpCode).toBe('500');
	});

	it('does not apply the production-only rule to calls that work in Test (QR exchange)', () => {
		const error = explainApiFailure(
			500,
			undefined,
			checkInContext({ what: 'the QR code exchange', environment: 'test', productionOnly: false }),
		);
		expect(error.message).not.toContain('only works in production');
	});

	it('advises Concurrency and Max Requests per Second after repeated 429s', () => {
		const body = { statusCode: 429, message: 'Rate limit is exceeded. Try again in 1 seconds.' };
		const error = explainApiFailure(429, body, checkInContext());
		expect(error.message).toBe('Vipps kept throttling the check-in (429 Too Many Requests)');
		expect(error.details.description).toContain('Concurrency');
		expect(error.details.description).toContain('Max Requests per Second');
		expect(error.details.vippsResponse).toEqual(body);
	});

	it.each([502, 503, 504])('reports a %i as a brief outage', (status) => {
		const error = explainApiFailure(status, undefined, checkInContext());
		expect(error.message).toBe(`Vipps was unavailable for the check-in (HTTP ${status})`);
	});

	it('names the base URL and the endpoint for a 404, in plain words', () => {
		const error = explainApiFailure(404, undefined, checkInContext({ baseUrl: 'http://127.0.0.1:8080' }));
		expect(error.message).toContain('http://127.0.0.1:8080');
		expect(error.message).toContain('check-in');
		expect(error.message).toContain('404');
		expect(error.message).not.toMatch(/\bno the\b/);
	});
});

describe('explainTransportFailure', () => {
	const CHECK_IN_URL = `${PRODUCTION}/point-of-sale/v1/loyalty-check-in`;
	const failure = (code: string, description?: string): Failure => ({ code, written: true, ...(description ? { description } : {}) });
	const explain = (f: Failure, { url = CHECK_IN_URL, what = 'the check-in', timeoutMs = 15_000 } = {}) => explainTransportFailure(f, url, what, timeoutMs);

	it('says a cancelled request was cancelled with the execution', () => {
		const error = explain(failure('ABORTED'));
		expect(error.message).toBe('the check-in was cancelled with the workflow execution');
		expect(error.details.httpCode).toBeUndefined();
	});

	it('names the timeout and the option to raise', () => {
		const error = explain(failure('ECONNABORTED'));
		expect(error.message).toBe('Vipps did not answer the check-in within 15000 ms');
		expect(error.details.description).toContain('Timeout');
	});

	it('names the host for a refused connection and mentions proxy settings', () => {
		const error = explain(failure('ECONNREFUSED'), { url: 'http://127.0.0.1:8080/x' });
		expect(error.message).toBe('Could not connect to 127.0.0.1:8080: the connection was refused');
		expect(error.details.description).toContain('HTTP_PROXY');
	});

	it('names the host for a reset connection', () => {
		expect(explain(failure('ECONNRESET')).message).toBe('The connection to api.vipps.no broke off during the check-in');
	});

	it('says a host that does not exist was not found', () => {
		const error = explain(failure('ENOTFOUND'), { url: 'https://api.vipps.invalid/x' });
		expect(error.message).toBe('The host api.vipps.invalid was not found');
		expect(error.details.description).toContain('ENOTFOUND');
		expect(error.details.description).toContain('Custom Base URL');
	});

	it.each(['DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID'])(
		'names an untrusted certificate (%s) and how to trust a private CA',
		(code) => {
			const error = explain(failure(code), { url: 'https://127.0.0.1:8443/x' });
			expect(error.message).toBe('The TLS certificate of 127.0.0.1:8443 is not trusted');
			expect(error.details.description).toContain(code);
			expect(error.details.description).toContain('NODE_EXTRA_CA_CERTS');
		},
	);

	it("names n8n's SSRF protection and the settings that allow an address", () => {
		const error = explain(failure('SsrfBlockedIpError', "The target '127.0.0.1' is not allowed."), {
			url: 'http://127.0.0.1:8080/x',
		});
		expect(error.message).toBe("n8n's SSRF protection blocked the request to 127.0.0.1:8080");
		expect(error.details.description).toContain("The target '127.0.0.1' is not allowed.");
		expect(error.details.description).toContain('N8N_SSRF_ALLOWED_IP_RANGES (e.g. 127.0.0.1/32)');
		expect(error.details.description).not.toContain('N8N_SSRF_ALLOWED_HOSTNAMES');
	});

	it('suggests the allowed hostnames for a blocked name (n8n matches names and IP addresses separately)', () => {
		const error = explain(failure('SsrfBlockedHostnameError'), { url: 'http://vipps-proxy.internal:8080/x' });
		expect(error.details.description).toContain('N8N_SSRF_ALLOWED_HOSTNAMES (e.g. vipps-proxy.internal)');
	});

	it('says an invalid URL is invalid', () => {
		expect(explain(failure('ERR_INVALID_URL'), { url: 'http://exa mple' }).message).toBe(
			'The Vipps API address is not a valid URL',
		);
	});

	it('names the error code for other failures, in the description (n8n rewrites messages that hold one)', () => {
		const error = explain(failure('EAI_AGAIN'), { what: 'the access token request' });
		expect(error.message).toBe('Could not reach api.vipps.no');
		expect(error.details.description).toMatch(/^EAI_AGAIN\. /);
	});

	it('never shows user:password from the URL', () => {
		const error = explain(failure('ECONNREFUSED'), { url: 'http://admin:hunter2@127.0.0.1:8080/x' });
		expect(error.message).not.toContain('hunter2');
		expect(error.message).toContain('127.0.0.1:8080');
	});

	it('falls back to a generic name when the URL cannot be parsed', () => {
		expect(explain(failure('EHOSTDOWN'), { url: 'not a url' }).message).toBe('Could not reach the Vipps API');
	});
});

describe('redirectError', () => {
	const CHECK_IN_URL = 'http://127.0.0.1:8080/point-of-sale/v1/loyalty-check-in';

	it('names the status and the host the Location pointed to, never its path, query or credentials', () => {
		const error = redirectError('the check-in', 307, 'https://user:pw@elsewhere.example:8443/collect?key=abc', CHECK_IN_URL);
		expect(error.message).toBe('127.0.0.1:8080 answered the check-in with a redirect (HTTP 307) to elsewhere.example:8443');
		expect(error.details.description).toBe("Vipps APIs never redirect: check the credential's Custom Base URL. Nothing was sent to elsewhere.example:8443.");
		expect(error.details.httpCode).toBe('307');
		expect(JSON.stringify(error)).not.toMatch(/pw|collect|key=abc/);
	});

	it('resolves a relative Location against the request', () => {
		expect(redirectError('the access token request', 302, '/login', CHECK_IN_URL).message).toContain('(HTTP 302) to 127.0.0.1:8080');
	});

	it('says so when there is no Location', () => {
		expect(redirectError('the check-in', 301, undefined, CHECK_IN_URL).message).toBe('127.0.0.1:8080 answered the check-in with a redirect (HTTP 301) without a Location');
	});
});

describe('withAttempts', () => {
	const error = () => explainApiFailure(503, undefined, checkInContext());

	it('leaves the words of a failure at the first attempt as they are, and adds the facts', () => {
		const counted = withAttempts(error(), 1, false);
		expect([counted.message, counted.details]).toEqual([error().message, { ...error().details, attempts: 1, possibleDuplicate: false }]);
		expect(withAttempts(error(), 0, false).details).toMatchObject({ attempts: 0, possibleDuplicate: false });
	});

	it('says how many attempts a failure took', () => {
		const counted = withAttempts(error(), 6, false);
		expect(counted.message).toBe('Vipps was unavailable for the check-in (HTTP 503), after 6 attempts');
		expect(counted.details.description).toBe(error().details.description);
		expect(counted.details.httpCode).toBe('503');
	});

	it('says the customer may have seen a check-in when an attempt may have reached Vipps', () => {
		const counted = withAttempts(error(), 2, true);
		expect(counted.details.description).toContain('Vipps may have received it all the same: the customer may have seen the check-in.');
		expect(counted.details).toMatchObject({ attempts: 2, possibleDuplicate: true });
		const once = withAttempts(explainTransportFailure({ code: 'ECONNABORTED', written: true }, PRODUCTION, 'the check-in', 500), 1, true);
		expect(once.message).toBe('Vipps did not answer the check-in within 500 ms');
		expect(once.details.description).toContain('the customer may have seen the check-in');
	});
});

describe('closedGatewayError', () => {
	it('names the time the gateway takes requests again, in the message and as details.retryAt', () => {
		const error = closedGatewayError('the check-in', Date.UTC(2026, 11, 6, 21, 30));
		expect(error.message).toBe("Vipps's gateway takes requests again at 2026-12-06T21:30:00Z: it refused the check-in until then (429 Too Many Requests)");
		expect(error.details).toMatchObject({ httpCode: '429', retryAt: '2026-12-06T21:30:00.000Z' });
	});
});

describe('redactSecrets', () => {
	const credentials = { clientSecret: 'cs-SECRET-1234', subscriptionKey: 'sk-KEY-5678' };

	it('replaces every occurrence of the client secret and the subscription key', () => {
		const text = 'secret=cs-SECRET-1234 key=sk-KEY-5678 again cs-SECRET-1234sk-KEY-5678';
		expect(redactSecrets(text, credentials)).toBe(
			'secret=[redacted] key=[redacted] again [redacted][redacted]',
		);
	});

	it('replaces extra secrets such as the access token', () => {
		expect(redactSecrets('Bearer eyJ.token.sig', credentials, ['eyJ.token.sig'])).toBe('Bearer [redacted]');
	});

	it('treats secrets as plain text, not as patterns', () => {
		const tricky = { clientSecret: 'a.b*c+(d)?$', subscriptionKey: '[x]{2}|y' };
		expect(redactSecrets('1 a.b*c+(d)?$ 2 [x]{2}|y 3 aXb', tricky)).toBe('1 [redacted] 2 [redacted] 3 aXb');
	});

	it('leaves text without secrets unchanged', () => {
		expect(redactSecrets('nothing to hide', credentials)).toBe('nothing to hide');
	});

	it('does not mangle the text for an empty secret', () => {
		expect(redactSecrets('abc', { clientSecret: '', subscriptionKey: '' }, [''])).toBe('abc');
	});
});

describe('parseJsonBody', () => {
	it('parses JSON, keeps other text, and turns an empty body into undefined', () => {
		expect(parseJsonBody('{"a":1}')).toEqual({ a: 1 });
		expect(parseJsonBody('"guid"')).toBe('guid');
		expect(parseJsonBody('3fa85f64-5717-4562-b3fc-2c963f66afa6')).toBe('3fa85f64-5717-4562-b3fc-2c963f66afa6');
		expect(parseJsonBody('')).toBeUndefined();
	});
});
