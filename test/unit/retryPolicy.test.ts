import {
	RETRY_POLICY,
	backoffDelayMs,
	classifyTransportFailure,
	decideRetry,
	isRetryable,
	parseRetryAfter,
	type AttemptOutcome,
	type TransportFailureKind,
} from '../../nodes/VippsCheckIn/transport/retryPolicy';

const status = (code: number, retryAfterMs?: number): AttemptOutcome => ({ type: 'status', status: code, retryAfterMs });
const transport = (kind: TransportFailureKind): AttemptOutcome => ({ type: 'transport', kind });
const always = (value: number) => () => value;

describe('isRetryable', () => {
	it.each([429, 502, 503, 504])('retries HTTP %i', (code) => {
		expect(isRetryable(status(code))).toBe(true);
	});

	it.each([200, 400, 401, 403, 404, 409, 500, 501])('does not retry HTTP %i', (code) => {
		expect(isRetryable(status(code))).toBe(false);
	});

	it.each<TransportFailureKind>(['connectionRefused', 'connectionReset', 'timeout', 'dnsTemporary'])(
		'retries the transport failure %s',
		(kind) => {
			expect(isRetryable(transport(kind))).toBe(true);
		},
	);

	it.each<TransportFailureKind>(['cancelled', 'permanent'])('does not retry the transport failure %s', (kind) => {
		expect(isRetryable(transport(kind))).toBe(false);
	});
});

describe('classifyTransportFailure', () => {
	/** The shape of what n8n's httpRequest throws (axios copies the socket's code up). */
	const axiosError = (code: string, cause?: unknown) => Object.assign(new Error(code), { name: 'AxiosError', code, cause });

	it.each([
		['ECONNREFUSED', 'connectionRefused'],
		['ECONNRESET', 'connectionReset'],
		['EPIPE', 'connectionReset'],
		['ECONNABORTED', 'timeout'],
		['ETIMEDOUT', 'timeout'],
		['EAI_AGAIN', 'dnsTemporary'],
	])('counts %s as the transient %s', (code, kind) => {
		expect(classifyTransportFailure(axiosError(code))).toEqual({ kind, code });
	});

	it.each(['ENOTFOUND', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'EHOSTDOWN'])(
		'counts %s as permanent: sending again cannot help',
		(code) => {
			expect(classifyTransportFailure(axiosError(code))).toEqual({ kind: 'permanent', code });
		},
	);

	it('reads the code from the cause when the error has none (an invalid URL)', () => {
		const invalidUrl = Object.assign(new TypeError('Invalid URL'), { cause: { code: 'ERR_INVALID_URL' } });
		expect(classifyTransportFailure(invalidUrl)).toEqual({ kind: 'permanent', code: 'ERR_INVALID_URL' });
	});

	it("counts n8n's SSRF refusal as permanent and keeps n8n's explanation", () => {
		const blocked = Object.assign(new Error('The request was blocked because it resolves to a restricted IP address'), {
			name: 'SsrfBlockedIpError',
			description: "The target '127.0.0.1' is not allowed.",
		});
		expect(classifyTransportFailure(blocked)).toEqual({
			kind: 'permanent',
			code: 'SsrfBlockedIpError',
			description: "The target '127.0.0.1' is not allowed.",
		});
	});

	it('counts an aborted request as cancelled, whatever the error says', () => {
		const controller = new AbortController();
		controller.abort();
		expect(classifyTransportFailure(axiosError('ECONNRESET'), controller.signal).kind).toBe('cancelled');
		expect(classifyTransportFailure(axiosError('ERR_CANCELED')).kind).toBe('cancelled');
	});

	it('counts something without a code as permanent, named by its class', () => {
		expect(classifyTransportFailure(new RangeError('odd'))).toEqual({ kind: 'permanent', code: 'RangeError' });
	});
});

describe('backoffDelayMs', () => {
	it('doubles the ceiling with each attempt, starting at the base delay', () => {
		const ceilings = [1, 2, 3, 4, 5].map((attempt) => backoffDelayMs(attempt, always(1)));
		expect(ceilings).toEqual([250, 500, 1000, 2000, 4000]);
	});

	it('caps the ceiling at the maximum backoff', () => {
		expect(backoffDelayMs(7, always(1))).toBe(RETRY_POLICY.maxBackoffMs);
		expect(backoffDelayMs(30, always(1))).toBe(RETRY_POLICY.maxBackoffMs);
	});

	it('uses full jitter: anywhere from 0 up to the ceiling', () => {
		expect(backoffDelayMs(3, always(0))).toBe(0);
		expect(backoffDelayMs(3, always(0.5))).toBe(500);
		expect(backoffDelayMs(3, always(0.999999))).toBe(1000);
	});

	it('stays within [0, ceiling] for any random value', () => {
		for (let attempt = 1; attempt <= 10; attempt++) {
			const ceiling = Math.min(RETRY_POLICY.maxBackoffMs, RETRY_POLICY.baseDelayMs * 2 ** (attempt - 1));
			for (const r of [0, 0.1, 0.33, 0.5, 0.77, 0.9999]) {
				const delay = backoffDelayMs(attempt, always(r));
				expect(delay).toBeGreaterThanOrEqual(0);
				expect(delay).toBeLessThanOrEqual(ceiling);
				expect(Number.isInteger(delay)).toBe(true);
			}
		}
	});

	it('draws from the random source it is given', () => {
		let calls = 0;
		backoffDelayMs(2, () => {
			calls++;
			return 0.25;
		});
		expect(calls).toBe(1);
	});
});

describe('decideRetry', () => {
	it('retries a 503 after a jittered backoff', () => {
		expect(decideRetry(status(503), 1, 0, always(0.5))).toEqual({ retry: true, delayMs: 125 });
		expect(decideRetry(status(503), 3, 0, always(0.5))).toEqual({ retry: true, delayMs: 500 });
	});

	it('retries a transport failure after a jittered backoff', () => {
		expect(decideRetry(transport('connectionReset'), 2, 0, always(1))).toEqual({ retry: true, delayMs: 500 });
	});

	it.each([400, 401, 403, 404, 500])('gives up at once on HTTP %i', (code) => {
		expect(decideRetry(status(code), 1, 0, always(0.5))).toEqual({ retry: false });
	});

	it('gives up at once on a cancelled request', () => {
		expect(decideRetry(transport('cancelled'), 1, 0, always(0.5))).toEqual({ retry: false });
	});

	it('honours Retry-After instead of the backoff', () => {
		expect(decideRetry(status(429, 7_000), 1, 0, always(0))).toEqual({ retry: true, delayMs: 7_000 });
	});

	it('honours a Retry-After of zero', () => {
		expect(decideRetry(status(429, 0), 1, 0, always(1))).toEqual({ retry: true, delayMs: 0 });
	});

	it('caps a long Retry-After', () => {
		expect(decideRetry(status(429, 3_600_000), 1, 0, always(0))).toEqual({
			retry: true,
			delayMs: RETRY_POLICY.maxRetryAfterMs,
		});
	});

	it('uses the backoff for a 429 without Retry-After', () => {
		expect(decideRetry(status(429), 4, 0, always(1))).toEqual({ retry: true, delayMs: 2_000 });
	});

	it('stops after the maximum number of attempts', () => {
		const last = RETRY_POLICY.maxAttempts;
		expect(decideRetry(status(503), last - 1, 0, always(0)).retry).toBe(true);
		expect(decideRetry(status(503), last, 0, always(0))).toEqual({ retry: false });
		expect(decideRetry(status(429, 10), last + 1, 0, always(0))).toEqual({ retry: false });
	});

	it('makes at most maxAttempts attempts in a loop that always fails', () => {
		let attempts = 1;
		let elapsed = 0;
		for (;;) {
			const decision = decideRetry(status(503), attempts, elapsed, always(1));
			if (!decision.retry) break;
			elapsed += decision.delayMs;
			attempts++;
		}
		expect(attempts).toBe(RETRY_POLICY.maxAttempts);
		expect(elapsed).toBeLessThanOrEqual(RETRY_POLICY.maxElapsedMs);
	});

	it('does not start a retry that would end past the time budget', () => {
		const budget = RETRY_POLICY.maxElapsedMs;
		expect(decideRetry(status(429, 1_000), 2, budget - 1_000, always(0))).toEqual({ retry: true, delayMs: 1_000 });
		expect(decideRetry(status(429, 1_000), 2, budget - 999, always(0))).toEqual({ retry: false });
		expect(decideRetry(status(502), 2, budget + 1, always(0))).toEqual({ retry: false });
	});

	it('counts the capped Retry-After against the time budget', () => {
		const budget = RETRY_POLICY.maxElapsedMs;
		const capped = RETRY_POLICY.maxRetryAfterMs;
		expect(decideRetry(status(429, 10 * capped), 1, budget - capped, always(0))).toEqual({
			retry: true,
			delayMs: capped,
		});
	});
});

describe('parseRetryAfter', () => {
	const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');

	it('reads delay-seconds', () => {
		expect(parseRetryAfter('120', now)).toBe(120_000);
		expect(parseRetryAfter('0', now)).toBe(0);
		expect(parseRetryAfter(' 5 ', now)).toBe(5_000);
	});

	it('reads an HTTP date as the time left until then', () => {
		expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', now)).toBe(30_000);
	});

	it('reads an HTTP date in the past as no wait', () => {
		expect(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now)).toBe(0);
	});

	it('takes the first of repeated headers', () => {
		expect(parseRetryAfter(['3', '60'], now)).toBe(3_000);
	});

	it.each([undefined, '', 'soon', 'in a bit', '5 seconds'])('ignores %p', (value) => {
		expect(parseRetryAfter(value, now)).toBeUndefined();
	});

	it('does not read a decimal number of seconds as a calendar date', () => {
		// "1.5" is not delay-seconds; Date.parse reads it as 5 January 2001, i.e. "no wait at all".
		// Either ignoring it (backoff applies) or reading 1.5 s is acceptable; 0 is not.
		expect([undefined, 1_500]).toContain(parseRetryAfter('1.5', now));
	});

	it('uses the current time by default', () => {
		const inOneMinute = new Date(Date.now() + 60_000).toUTCString();
		const parsed = parseRetryAfter(inOneMinute);
		expect(parsed).toBeGreaterThan(58_000);
		expect(parsed).toBeLessThanOrEqual(60_000);
	});
});
