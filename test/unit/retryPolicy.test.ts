import 'reflect-metadata';

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { OutboundHttp } from '@n8n/backend-network';
import { Container } from '@n8n/di';

import {
	RETRY_POLICY,
	backoffDelayMs,
	delayBeforeNext,
	failureOf,
	mayHaveArrived,
	nextStep,
	parseRetryAfter,
	type Attempts,
	type Step,
} from '../../nodes/VippsCheckIn/transport/retryPolicy';

const always = (value: number) => () => value;

/** The attempts after these steps, counted as the transport counts them. */
const attemptsOf = (...steps: Step[]): Attempts => ({
	made: steps.length,
	failed: steps.filter((step) => step === 'again' || step === 'againOnce').length,
	mayHaveArrived: steps.filter((step) => step === 'againOnce').length,
});

/**
 * Runs the retry loop the way the transport does over a scripted series of steps (the last one
 * repeating); returns the steps of the attempts actually made.
 */
function attemptsMade(script: Step[]): Step[] {
	const made: Step[] = [];
	let elapsedMs = 0;
	for (;;) {
		const step = script[Math.min(made.length, script.length - 1)];
		made.push(step);
		const delayMs = delayBeforeNext(step, attemptsOf(...made), elapsedMs, undefined, always(1));
		if (delayMs === undefined) return made;
		elapsedMs += delayMs;
	}
}

const answer = (status: number) => ({ status, body: '' });

describe('nextStep for an answer', () => {
	it('waits after a 429: the gateway refused it, it never reached Vipps', () => {
		expect(nextStep(answer(429), true)).toBe('wait');
		expect(nextStep(answer(429), false)).toBe('wait');
	});

	it.each([502, 503, 504])('sends a check-in answered %i again only once (it may have arrived), another request again', (status) => {
		expect(nextStep(answer(status), true)).toBe('againOnce');
		expect(nextStep(answer(status), false)).toBe('again');
		expect(mayHaveArrived(answer(status))).toBe(true);
	});

	it.each([500, 501, 505])('takes a check-in answered %i as final (Test answers every check-in 500), but sends the token request again', (status) => {
		expect(nextStep(answer(status), true)).toBe('final');
		expect(nextStep(answer(status), false)).toBe('again');
		expect(mayHaveArrived(answer(status))).toBe(false);
	});

	it.each([200, 201, 301, 302, 307, 308, 400, 401, 403, 404, 409])('takes HTTP %i as final', (status) => {
		expect(nextStep(answer(status), true)).toBe('final');
		expect(nextStep(answer(status), false)).toBe('final');
	});
});
describe('failureOf and nextStep for a failure', () => {
	/** The shape of what n8n's httpRequest throws: axios copies the socket's code up and keeps the Node request. */
	const axiosError = (code: string, writableFinished?: boolean) =>
		Object.assign(new Error(code), { name: 'AxiosError', code, ...(writableFinished === undefined ? {} : { request: { writableFinished } }) });

	it.each(['ECONNREFUSED', 'EAI_AGAIN'])('sends again after %s: never sent', (code) => {
		const failure = failureOf(axiosError(code, false));
		expect(failure).toEqual({ code, written: false });
		expect([nextStep(failure, true), mayHaveArrived(failure)]).toEqual(['again', false]);
	});

	it.each(['ECONNABORTED', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE'])('counts %s after the request was written as possibly arrived', (code) => {
		const failure = failureOf(axiosError(code, true));
		expect(failure).toEqual({ code, written: true });
		expect([nextStep(failure, true), nextStep(failure, false), mayHaveArrived(failure)]).toEqual(['againOnce', 'again', true]);
	});

	it('counts a timeout before the request was written (a connect timeout) as never sent', () => {
		const failure = failureOf(axiosError('ECONNABORTED', false));
		expect([nextStep(failure, true), mayHaveArrived(failure)]).toEqual(['again', false]);
	});

	it('counts a timeout or a reset as possibly arrived when the error does not say whether the request was written', () => {
		expect(mayHaveArrived(failureOf(axiosError('ECONNABORTED')))).toBe(true);
		expect(mayHaveArrived(failureOf(axiosError('ECONNRESET')))).toBe(true);
	});

	it.each(['ENOTFOUND', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'EHOSTDOWN'])('takes %s as final: sending again cannot help', (code) => {
		const failure = failureOf(axiosError(code, false));
		expect(failure.code).toBe(code);
		expect(nextStep(failure, false)).toBe('final');
	});

	it('reads the code from the cause when the error has none (an invalid URL)', () => {
		const invalidUrl = Object.assign(new TypeError('Invalid URL'), { cause: { code: 'ERR_INVALID_URL' } });
		expect(failureOf(invalidUrl)).toMatchObject({ code: 'ERR_INVALID_URL' });
		expect(nextStep(failureOf(invalidUrl), false)).toBe('final');
	});

	it("takes n8n's SSRF refusal as final and keeps n8n's explanation", () => {
		const blocked = Object.assign(new Error('The request was blocked because it resolves to a restricted IP address'), {
			name: 'SsrfBlockedIpError',
			description: "The target '127.0.0.1' is not allowed.",
		});
		expect(failureOf(blocked)).toEqual({ code: 'SsrfBlockedIpError', written: true, description: "The target '127.0.0.1' is not allowed." });
		expect(nextStep(failureOf(blocked), false)).toBe('final');
	});

	it('takes an aborted request as cancelled and final; written, it may have arrived (a check-in then is a possible duplicate)', () => {
		const controller = new AbortController();
		controller.abort();
		const written = failureOf(axiosError('ECONNRESET', true), controller.signal);
		expect(written).toEqual({ code: 'ABORTED', written: true });
		expect([nextStep(written, true), mayHaveArrived(written)]).toEqual(['final', true]);
		const unwritten = failureOf(axiosError('ERR_CANCELED', false));
		expect([unwritten.code, mayHaveArrived(unwritten)]).toEqual(['ABORTED', false]);
	});

	it('takes something without a code as final, named by its class', () => {
		expect(failureOf(new RangeError('odd'))).toEqual({ code: 'RangeError', written: true });
		expect(nextStep(failureOf(new RangeError('odd')), false)).toBe('final');
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
		async function classified(url: string) {
			const options = { method: 'POST' as const, url, body: '{"phoneNumber":"4791234567"}', timeout: 2_000, disableFollowRedirect: true, returnFullResponse: true };
			const sent = Container.get(OutboundHttp).requests().request(options);
			const failure = failureOf(await sent.then(() => undefined, (error: unknown) => error));
			return { step: nextStep(failure, true), mayHaveArrived: mayHaveArrived(failure) };
		}

		it('a refused connection never reached the server', async () => {
			// Port 1 (tcpmux): nothing listens there.
			expect(await classified('http://127.0.0.1:1/')).toEqual({ step: 'again', mayHaveArrived: false });
		});

		it('a request the server read but never answered may have arrived', async () => {
			expect(await classified(`${baseUrl}/hang`)).toEqual({ step: 'againOnce', mayHaveArrived: true });
		});

		it('a connection reset after the server read the request may have arrived', async () => {
			expect(await classified(`${baseUrl}/reset`)).toEqual({ step: 'againOnce', mayHaveArrived: true });
		});
	});
});

describe('delayBeforeNext', () => {
	it('never retries a final step', () => {
		expect(delayBeforeNext('final', attemptsOf('final'), 0, undefined)).toBeUndefined();
	});

	it('retries what never reached Vipps after a jittered backoff', () => {
		expect(delayBeforeNext('again', attemptsOf('again'), 0, undefined, always(0.5))).toBe(125);
		expect(delayBeforeNext('again', attemptsOf('again', 'again', 'again'), 0, undefined, always(0.5))).toBe(500);
	});

	it('sends a check-in again once after an attempt that may have arrived', () => {
		expect(delayBeforeNext('againOnce', attemptsOf('againOnce'), 0, undefined, always(1))).toBe(250);
	});

	it('never sends a check-in again after a second attempt that may have arrived', () => {
		expect(delayBeforeNext('againOnce', attemptsOf('againOnce', 'againOnce'), 0, undefined, always(1))).toBeUndefined();
		expect(delayBeforeNext('againOnce', attemptsOf('againOnce', 'again', 'wait', 'againOnce'), 0, undefined, always(1))).toBeUndefined();
	});

	it('after one that may have arrived, still retries attempts that surely did not (refused, throttled)', () => {
		expect(delayBeforeNext('again', attemptsOf('againOnce', 'again'), 0, undefined, always(1))).toBe(500);
		expect(delayBeforeNext('wait', attemptsOf('againOnce', 'wait'), 0, undefined)).toBe(1_000);
	});

	it('stops after maxAttempts failures', () => {
		const failures = (count: number) => attemptsOf(...Array<Step>(count).fill('again'));
		expect(delayBeforeNext('again', failures(RETRY_POLICY.maxAttempts - 1), 0, undefined, always(0))).toBe(0);
		expect(delayBeforeNext('again', failures(RETRY_POLICY.maxAttempts), 0, undefined, always(0))).toBeUndefined();
	});

	describe('a 429', () => {
		it('waits its Retry-After, 0 meaning now', () => {
			expect(delayBeforeNext('wait', attemptsOf('wait'), 0, 7_000)).toBe(7_000);
			expect(delayBeforeNext('wait', attemptsOf('wait'), 0, 0)).toBe(0);
		});

		it('waits 1 s without Retry-After', () => {
			expect(delayBeforeNext('wait', attemptsOf('wait'), 0, undefined)).toBe(RETRY_POLICY.defaultRetryAfterMs);
		});

		it('does not wait a Retry-After that ends beyond the budget (the transport calls that a closed gateway)', () => {
			expect(delayBeforeNext('wait', attemptsOf('wait'), 0, RETRY_POLICY.budgetMs)).toBe(RETRY_POLICY.budgetMs);
			expect(delayBeforeNext('wait', attemptsOf('wait'), 0, 3_600_000)).toBeUndefined();
			expect(delayBeforeNext('wait', attemptsOf('wait'), 60_000, 60_001)).toBeUndefined();
		});

		it('is not bounded by maxAttempts, only by the budget: a throttled batch loses no item', () => {
			const manyThrottled = attemptsOf(...Array<Step>(50).fill('wait'));
			expect(delayBeforeNext('wait', manyThrottled, 50_000, undefined)).toBe(1_000);
			expect(delayBeforeNext('wait', manyThrottled, RETRY_POLICY.budgetMs - 999, undefined)).toBeUndefined();
		});
	});

	it('honours the Retry-After of a 503', () => {
		expect(delayBeforeNext('againOnce', attemptsOf('againOnce'), 0, 5_000, always(0))).toBe(5_000);
	});

	it('does not start a retry that would end past the budget', () => {
		const budget = RETRY_POLICY.budgetMs;
		expect(delayBeforeNext('again', attemptsOf('again'), budget - 250, undefined, always(1))).toBe(250);
		expect(delayBeforeNext('again', attemptsOf('again'), budget - 249, undefined, always(1))).toBeUndefined();
	});

	it('for every series of steps, a check-in reaches Vipps at most twice, and at most once unless one attempt may have arrived', () => {
		const steps: Step[] = ['again', 'wait', 'againOnce', 'final'];
		const scripts: Step[][] = [[]];
		for (let length = 0; length < 6; length++) {
			for (const script of scripts.splice(0)) for (const step of steps) scripts.push([...script, step]);
		}
		for (const script of scripts) {
			const made = attemptsMade(script);
			const arrived = made.filter((step) => step === 'againOnce' || step === 'final');
			expect({ script, arrived: arrived.length <= (made.includes('againOnce') ? 2 : 1) }).toEqual({ script, arrived: true });
		}
	});

	it('makes at most two attempts for a check-in that always times out, and maxAttempts for one that is always refused', () => {
		expect(attemptsMade(['againOnce'])).toHaveLength(2);
		expect(attemptsMade(['again'])).toHaveLength(RETRY_POLICY.maxAttempts);
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

describe('parseRetryAfter: every form RFC 9110 allows', () => {
	const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');

	it('reads delay-seconds, 0 being now', () => {
		expect(parseRetryAfter('120', now)).toBe(120_000);
		expect(parseRetryAfter('0', now)).toBe(0);
		expect(parseRetryAfter(' 5 ', now)).toBe(5_000);
		expect(parseRetryAfter('3600', now)).toBe(3_600_000);
	});

	it('reads an IMF-fixdate as the time left until then, and one in the past as now', () => {
		expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', now)).toBe(30_000);
		expect(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now)).toBe(0);
		expect(parseRetryAfter('Thu, 22 Oct 2015 07:28:00 GMT', now)).toBe(86_400_000);
	});

	it('reads an RFC 850 date (two-digit year)', () => {
		expect(parseRetryAfter('Wednesday, 21-Oct-15 07:29:00 GMT', now)).toBe(60_000);
		// Two digits: 94 is 1994, long gone, so now.
		expect(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', now)).toBe(0);
	});

	it("reads an asctime date (a space-padded day)", () => {
		expect(parseRetryAfter('Wed Oct 21 07:28:10 2015', now)).toBe(10_000);
		expect(parseRetryAfter('Sun Nov  1 07:28:00 2015', now)).toBe(11 * 86_400_000);
	});

	it('takes the first of repeated headers', () => {
		expect(parseRetryAfter(['3', '60'], now)).toBe(3_000);
	});

	it.each([undefined, '', 'soon', 'in a bit', '5 seconds', '-5', '1.5', 'Wed, 21 Foo 2015 07:28:30 GMT', '2015-10-21T07:28:30Z'])('ignores %p', (value) => {
		expect(parseRetryAfter(value, now)).toBeUndefined();
	});
});
