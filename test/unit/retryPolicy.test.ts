import 'reflect-metadata';

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { OutboundHttp } from '@n8n/backend-network';
import { Container } from '@n8n/di';

import {
	RETRY_POLICY,
	backoffDelayMs,
	classifyTransportFailure,
	decideRetry,
	outcomeOfStatus,
	parseRetryAfter,
	tallyAttempt,
	type AttemptOutcome,
	type AttemptTally,
} from '../../nodes/VippsCheckIn/transport/retryPolicy';

const always = (value: number) => () => value;
const FIRST: AttemptTally = { attempts: 0, failures: 0, maybeSent: 0 };
const outcome = (reach: AttemptOutcome['reach'], retryAfterMs?: number): AttemptOutcome => ({ reach, retryAfterMs });

/** The tally after attempts with these outcomes. */
const tallyOf = (...reaches: Array<AttemptOutcome['reach']>) => reaches.reduce((tally, reach) => tallyAttempt(tally, outcome(reach)), FIRST);

/**
 * Runs the retry loop the way VippsApiClient does over a scripted series of outcomes (the last
 * one repeating); returns the outcomes of the attempts actually made.
 */
function attemptsMade(script: Array<AttemptOutcome['reach']>, notifiesCustomer: boolean): Array<AttemptOutcome['reach']> {
	const made: Array<AttemptOutcome['reach']> = [];
	let tally = FIRST;
	let elapsedMs = 0;
	for (;;) {
		const reach = script[Math.min(made.length, script.length - 1)];
		made.push(reach);
		tally = tallyAttempt(tally, outcome(reach));
		const delayMs = decideRetry(outcome(reach), tally, elapsedMs, notifiesCustomer, always(1));
		if (delayMs === undefined) return made;
		elapsedMs += delayMs;
	}
}

describe('outcomeOfStatus', () => {
	it('counts a 429 as refused by the gateway: it never reached Vipps', () => {
		expect(outcomeOfStatus(429, 2_000)).toEqual({ reach: 'throttled', retryAfterMs: 2_000 });
	});

	it.each([502, 503, 504])('counts HTTP %i as an attempt that may have reached Vipps', (status) => {
		expect(outcomeOfStatus(status).reach).toBe('maybeSent');
	});

	it.each([200, 201, 301, 302, 307, 308, 400, 401, 403, 404, 409, 500, 501])('counts HTTP %i as final', (status) => {
		expect(outcomeOfStatus(status).reach).toBe('final');
	});
});

describe('classifyTransportFailure', () => {
	/** The shape of what n8n's httpRequest throws: axios copies the socket's code up and keeps the Node request. */
	const axiosError = (code: string, writableFinished?: boolean) =>
		Object.assign(new Error(code), { name: 'AxiosError', code, ...(writableFinished === undefined ? {} : { request: { writableFinished } }) });

	it.each([
		['ECONNREFUSED', 'connectionRefused'],
		['EAI_AGAIN', 'dnsTemporary'],
	])('counts %s as %s, never sent', (code, kind) => {
		expect(classifyTransportFailure(axiosError(code, false))).toEqual({ kind, reach: 'notSent', code });
	});

	it.each([
		['ECONNABORTED', 'timeout'],
		['ETIMEDOUT', 'timeout'],
		['ECONNRESET', 'connectionReset'],
		['EPIPE', 'connectionReset'],
	])('counts %s (%s) after the request was written as possibly arrived', (code, kind) => {
		expect(classifyTransportFailure(axiosError(code, true))).toEqual({ kind, reach: 'maybeSent', code });
	});

	it('counts a timeout before the request was written (a connect timeout) as never sent', () => {
		expect(classifyTransportFailure(axiosError('ECONNABORTED', false))).toEqual({ kind: 'timeout', reach: 'notSent', code: 'ECONNABORTED' });
	});

	it('counts a timeout or a reset as possibly arrived when the error does not say whether the request was written', () => {
		expect(classifyTransportFailure(axiosError('ECONNABORTED')).reach).toBe('maybeSent');
		expect(classifyTransportFailure(axiosError('ECONNRESET')).reach).toBe('maybeSent');
	});

	it.each(['ENOTFOUND', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'EHOSTDOWN'])(
		'counts %s as final: sending again cannot help',
		(code) => {
			expect(classifyTransportFailure(axiosError(code, false))).toEqual({ kind: 'permanent', reach: 'final', code });
		},
	);

	it('reads the code from the cause when the error has none (an invalid URL)', () => {
		const invalidUrl = Object.assign(new TypeError('Invalid URL'), { cause: { code: 'ERR_INVALID_URL' } });
		expect(classifyTransportFailure(invalidUrl)).toEqual({ kind: 'permanent', reach: 'final', code: 'ERR_INVALID_URL' });
	});

	it("counts n8n's SSRF refusal as final and keeps n8n's explanation", () => {
		const blocked = Object.assign(new Error('The request was blocked because it resolves to a restricted IP address'), {
			name: 'SsrfBlockedIpError',
			description: "The target '127.0.0.1' is not allowed.",
		});
		expect(classifyTransportFailure(blocked)).toEqual({
			kind: 'permanent',
			reach: 'final',
			code: 'SsrfBlockedIpError',
			description: "The target '127.0.0.1' is not allowed.",
		});
	});

	it('counts an aborted request as cancelled, whatever the error says', () => {
		const controller = new AbortController();
		controller.abort();
		expect(classifyTransportFailure(axiosError('ECONNRESET', true), controller.signal)).toMatchObject({ kind: 'cancelled', reach: 'final' });
		expect(classifyTransportFailure(axiosError('ERR_CANCELED')).kind).toBe('cancelled');
	});

	it('counts something without a code as final, named by its class', () => {
		expect(classifyTransportFailure(new RangeError('odd'))).toEqual({ kind: 'permanent', reach: 'final', code: 'RangeError' });
	});

	describe("what n8n's own HTTP helper throws, over loopback", () => {
		let server: Server;
		let baseUrl: string;

		beforeAll(async () => {
			// Reads each request whole, then: /hang never answers, /reset resets the connection.
			server = createServer((req, res) => {
				req.resume();
				req.on('end', () => {
					if (req.url === '/reset') res.socket?.resetAndDestroy();
				});
			});
			await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
			baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
		});

		afterAll(async () => {
			server.closeAllConnections();
			await new Promise((resolve) => server.close(resolve));
		});

		/** Sends as VippsApiClient does, through what `this.helpers.httpRequest` calls, and classifies what it threw. */
		async function failureOf(url: string) {
			const options = { method: 'POST' as const, url, body: '{"phoneNumber":"4791234567"}', timeout: 2_000, disableFollowRedirect: true, returnFullResponse: true };
			const sent = Container.get(OutboundHttp).requests().request(options);
			return classifyTransportFailure(await sent.then(() => undefined, (error: unknown) => error));
		}

		it('a refused connection never reached the server', async () => {
			// Port 1 (tcpmux): nothing listens there.
			expect(await failureOf('http://127.0.0.1:1/')).toMatchObject({ kind: 'connectionRefused', reach: 'notSent' });
		});

		it('a request the server read but never answered may have arrived', async () => {
			expect(await failureOf(`${baseUrl}/hang`)).toMatchObject({ kind: 'timeout', reach: 'maybeSent' });
		});

		it('a connection reset after the server read the request may have arrived', async () => {
			expect(await failureOf(`${baseUrl}/reset`)).toMatchObject({ kind: 'connectionReset', reach: 'maybeSent' });
		});
	});
});

describe('tallyAttempt', () => {
	it('counts every attempt, the failures other than 429, and those that may have arrived', () => {
		expect(tallyOf('throttled', 'notSent', 'maybeSent', 'throttled', 'final')).toEqual({ attempts: 5, failures: 2, maybeSent: 1 });
	});
});

describe('decideRetry', () => {
	it('never retries a final outcome', () => {
		expect(decideRetry(outcome('final'), tallyOf('final'), 0, true)).toBeUndefined();
		expect(decideRetry(outcome('final'), tallyOf('final'), 0, false)).toBeUndefined();
	});

	it('retries what never reached Vipps after a jittered backoff', () => {
		expect(decideRetry(outcome('notSent'), tallyOf('notSent'), 0, true, always(0.5))).toBe(125);
		expect(decideRetry(outcome('notSent'), tallyOf('notSent', 'notSent', 'notSent'), 0, true, always(0.5))).toBe(500);
	});

	it('sends a check-in again once after an attempt that may have arrived', () => {
		expect(decideRetry(outcome('maybeSent'), tallyOf('maybeSent'), 0, true, always(1))).toBe(250);
	});

	it('never sends a check-in again after a second attempt that may have arrived', () => {
		expect(decideRetry(outcome('maybeSent'), tallyOf('maybeSent', 'maybeSent'), 0, true, always(1))).toBeUndefined();
		expect(decideRetry(outcome('maybeSent'), tallyOf('maybeSent', 'notSent', 'throttled', 'maybeSent'), 0, true, always(1))).toBeUndefined();
	});

	it('after one that may have arrived, still retries attempts that surely did not (refused, throttled)', () => {
		expect(decideRetry(outcome('notSent'), tallyOf('maybeSent', 'notSent'), 0, true, always(1))).toBe(500);
		expect(decideRetry(outcome('throttled'), tallyOf('maybeSent', 'throttled'), 0, true)).toBe(1_000);
	});

	it('retries a request that notifies nobody (token, QR exchange) like one that never arrived', () => {
		expect(decideRetry(outcome('maybeSent'), tallyOf('maybeSent', 'maybeSent', 'maybeSent'), 0, false, always(1))).toBe(1_000);
	});

	it('stops after maxAttempts failures', () => {
		const failures = (count: number) => tallyOf(...Array<AttemptOutcome['reach']>(count).fill('notSent'));
		expect(decideRetry(outcome('notSent'), failures(RETRY_POLICY.maxAttempts - 1), 0, true, always(0))).toBe(0);
		expect(decideRetry(outcome('notSent'), failures(RETRY_POLICY.maxAttempts), 0, true, always(0))).toBeUndefined();
	});

	describe('a 429', () => {
		it('waits its Retry-After', () => {
			expect(decideRetry(outcome('throttled', 7_000), tallyOf('throttled'), 0, true)).toBe(7_000);
			expect(decideRetry(outcome('throttled', 0), tallyOf('throttled'), 0, true)).toBe(0);
		});

		it('waits 1 s without Retry-After', () => {
			expect(decideRetry(outcome('throttled'), tallyOf('throttled'), 0, true)).toBe(RETRY_POLICY.defaultRetryAfterMs);
		});

		it('caps a long Retry-After', () => {
			expect(decideRetry(outcome('throttled', 3_600_000), tallyOf('throttled'), 0, true)).toBe(RETRY_POLICY.maxRetryAfterMs);
		});

		it('is not bounded by maxAttempts, only by the time budget: a throttled batch loses no item', () => {
			const manyThrottled = tallyOf(...Array<AttemptOutcome['reach']>(50).fill('throttled'));
			expect(decideRetry(outcome('throttled'), manyThrottled, 50_000, true)).toBe(1_000);
			expect(decideRetry(outcome('throttled'), manyThrottled, RETRY_POLICY.maxElapsedMs - 999, true)).toBeUndefined();
		});
	});

	it('honours the Retry-After of a 503', () => {
		expect(decideRetry(outcome('maybeSent', 5_000), tallyOf('maybeSent'), 0, true, always(0))).toBe(5_000);
	});

	it('does not start a retry that would end past the time budget', () => {
		const budget = RETRY_POLICY.maxElapsedMs;
		expect(decideRetry(outcome('notSent'), tallyOf('notSent'), budget - 250, true, always(1))).toBe(250);
		expect(decideRetry(outcome('notSent'), tallyOf('notSent'), budget - 249, true, always(1))).toBeUndefined();
	});

	it('for every series of outcomes, a check-in reaches Vipps at most twice, and at most once unless one attempt may have arrived', () => {
		const reaches: Array<AttemptOutcome['reach']> = ['notSent', 'throttled', 'maybeSent', 'final'];
		const scripts: Array<Array<AttemptOutcome['reach']>> = [[]];
		for (let length = 0; length < 6; length++) {
			for (const script of scripts.splice(0)) for (const reach of reaches) scripts.push([...script, reach]);
		}
		for (const script of scripts) {
			const made = attemptsMade(script, true);
			const arrived = made.filter((reach) => reach === 'maybeSent' || reach === 'final');
			expect({ script, arrived: arrived.length <= (made.includes('maybeSent') ? 2 : 1) }).toEqual({ script, arrived: true });
		}
	});

	it('makes at most two attempts for a check-in that always times out, and maxAttempts for a token request', () => {
		expect(attemptsMade(['maybeSent'], true)).toHaveLength(2);
		expect(attemptsMade(['maybeSent'], false)).toHaveLength(RETRY_POLICY.maxAttempts);
		expect(attemptsMade(['notSent'], true)).toHaveLength(RETRY_POLICY.maxAttempts);
	});
});

describe('backoffDelayMs', () => {
	it('doubles the ceiling with each failure, starting at the base delay', () => {
		expect([1, 2, 3, 4, 5].map((failure) => backoffDelayMs(failure, always(1)))).toEqual([250, 500, 1000, 2000, 4000]);
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
});

describe('parseRetryAfter', () => {
	const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');

	it('reads delay-seconds', () => {
		expect(parseRetryAfter('120', now)).toBe(120_000);
		expect(parseRetryAfter('0', now)).toBe(0);
		expect(parseRetryAfter(' 5 ', now)).toBe(5_000);
	});

	it('reads an HTTP date as the time left until then, and one in the past as no wait', () => {
		expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', now)).toBe(30_000);
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
		expect([undefined, 1_500]).toContain(parseRetryAfter('1.5', now));
	});
});
