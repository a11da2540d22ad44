/**
 * The fault kinds added for the property-based run (test/property): Retry-After in each form HTTP
 * allows, a request dropped unread by the gateway, a bounded hang, a body that breaks off, refused
 * connections and a closed port. Each as a real HTTP client sees it.
 */
import { connect } from 'node:net';
import { formatRetryAfter, PATHS, VippsSimulator } from '../../simulator/VippsSimulator';
import { checkIn, fetchToken, manualClock, post, startCheckIn, tokenHeaders, VALID_CHECK_IN } from './helpers';

let simulator: VippsSimulator;
let token: string;
const clock = manualClock(Date.UTC(2026, 11, 6, 20, 30, 15, 250));

beforeEach(async () => {
	simulator = await VippsSimulator.start({ now: clock.now });
	token = await fetchToken(simulator);
});

afterEach(() => simulator.close());

describe('formatRetryAfter', () => {
	// 2026-12-06T20:30:15.250Z is a Sunday; 2 s later, rounded up to the whole second, is 20:30:18.
	const now = Date.UTC(2026, 11, 6, 20, 30, 15, 250);

	test.each([
		['delta-seconds', '2'],
		['imf-fixdate', 'Sun, 06 Dec 2026 20:30:18 GMT'],
		['rfc850', 'Sunday, 06-Dec-26 20:30:18 GMT'],
		['asctime', 'Sun Dec  6 20:30:18 2026'],
	] as const)('%s', (form, expected) => {
		expect(formatRetryAfter(2, form, now)).toBe(expected);
	});

	test('a date is never earlier than the wait asked for', () => {
		for (const form of ['imf-fixdate', 'rfc850', 'asctime'] as const) {
			const written = formatRetryAfter(0, form, now);
			const parsed = form === 'rfc850' ? Date.parse(written.replace(/-(\d\d) /, '-20$1 ')) : Date.parse(written);
			expect(parsed).toBeGreaterThanOrEqual(now);
			expect(parsed - now).toBeLessThan(1000);
		}
	});

	test('an unknown form is refused', () => {
		expect(() => formatRetryAfter(1, 'fortnight' as never, now)).toThrow(RangeError);
	});
});

describe('Retry-After in every form', () => {
	test.each(['delta-seconds', 'imf-fixdate', 'rfc850', 'asctime'] as const)('429 and 503 with Retry-After as %s', async (form) => {
		simulator.injectFault({ fault: { kind: 'status', status: 429, retryAfterSeconds: 3, retryAfterForm: form } });
		simulator.injectFault({ fault: { kind: 'status', status: 503, retryAfterSeconds: 3, retryAfterForm: form } });

		const throttled = await checkIn(simulator, token);
		const unavailable = await checkIn(simulator, token);

		const expected = formatRetryAfter(3, form, clock.now());
		expect(throttled).toMatchObject({ status: 429, headers: { 'retry-after': expected } });
		expect(JSON.parse(throttled.text)).toEqual({ statusCode: 429, message: 'Rate limit is exceeded. Try again in 3 seconds.' });
		expect(unavailable).toMatchObject({ status: 503, headers: { 'retry-after': expected }, text: '' });
	});

	test('Retry-After 0 is sent as 0', async () => {
		simulator.injectFault({ fault: { kind: 'status', status: 429, retryAfterSeconds: 0 } });

		expect((await checkIn(simulator, token)).headers['retry-after']).toBe('0');
	});

	test('the token request can be throttled too', async () => {
		simulator.injectFault({ fault: { kind: 'status', status: 429, retryAfterSeconds: 1, retryAfterForm: 'imf-fixdate' }, path: PATHS.accessToken });

		const answer = await post(simulator, PATHS.accessToken, tokenHeaders(simulator));

		expect(answer.status).toBe(429);
		expect(answer.headers['retry-after']).toMatch(/ GMT$/);
	});
});

describe('dropped', () => {
	test('the request is read and recorded, never answered: the connection is reset, and the log says the API never saw it', async () => {
		simulator.injectFault({ fault: { kind: 'dropped' }, path: PATHS.checkIn });

		await expect(startCheckIn(simulator, token, { reset: true })).rejects.toMatchObject({ code: 'ECONNRESET' });
		expect(simulator.requests.at(-1)).toMatchObject({ path: PATHS.checkIn, status: 0, fault: 'dropped', rawBody: VALID_CHECK_IN });
		expect((await checkIn(simulator, token)).status).toBe(200);
	});
});

describe('hang for a while', () => {
	test('recorded, no answer, then the connection is reset after the time given, without close()', async () => {
		simulator.injectFault({ fault: { kind: 'hang', ms: 50 }, path: PATHS.checkIn });

		await expect(startCheckIn(simulator, token, { reset: true })).rejects.toMatchObject({ code: 'ECONNRESET' });
		expect(simulator.requests.at(-1)).toMatchObject({ status: 0, fault: 'hang' });
	});
});

describe('a body that breaks off', () => {
	test.each([200, 400, 500, 503] as const)('status %i: the status and half the body arrive, then the server closes the connection', async (status) => {
		simulator.injectFault({ fault: { kind: 'partialBody', status, end: 'close' } });

		const response = await startCheckIn(simulator, token, { reset: true });

		expect(response.statusCode).toBe(status);
		await expect(response.body.text()).rejects.toThrow();
		expect(simulator.requests.at(-1)).toMatchObject({ status, fault: 'partialBody' });
	});
});

describe('refused connections', () => {
	test('the next connections are reset before a byte is read: nothing recorded, the ones after are served', async () => {
		simulator.refuseConnections(2);

		await expect(startCheckIn(simulator, token, { reset: true })).rejects.toThrow();
		await expect(post(simulator, PATHS.accessToken, tokenHeaders(simulator))).rejects.toThrow();
		const served = await checkIn(simulator, token);

		expect(served.status).toBe(200);
		expect(simulator.refusedConnections).toBe(2);
		// Only the token request of beforeEach and the served check-in.
		expect(simulator.requests.map((r) => r.path)).toEqual([PATHS.accessToken, PATHS.checkIn]);
	});

	test('a raw connection sees the reset', async () => {
		simulator.refuseConnections(1);
		const { port } = new URL(simulator.baseUrl);

		const outcome = await new Promise<string>((resolve) => {
			const socket = connect(Number(port), '127.0.0.1');
			socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
			socket.on('close', () => resolve('closed'));
		});

		expect(['ECONNRESET', 'closed']).toContain(outcome);
	});

	test('clearFaults cancels refusals still to come; a negative count is refused', async () => {
		simulator.refuseConnections(5);
		simulator.clearFaults();

		expect((await checkIn(simulator, token)).status).toBe(200);
		expect(() => simulator.refuseConnections(-1)).toThrow(RangeError);
	});
});

describe('a closed port', () => {
	test('closePort: connections are refused (ECONNREFUSED); reopenPort serves the same address again', async () => {
		simulator.closePort();

		await expect(checkIn(simulator, token)).rejects.toMatchObject({ code: 'ECONNREFUSED' });

		await simulator.reopenPort();
		expect((await checkIn(simulator, token)).status).toBe(200);
	});

	test('close() after closePort() ends cleanly', async () => {
		simulator.closePort();
		await expect(simulator.close()).resolves.toBeUndefined();
	});
});
