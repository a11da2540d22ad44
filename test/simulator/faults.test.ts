import { performance } from 'perf_hooks';
import { PATHS, VippsSimulator } from '../../simulator/VippsSimulator';
import { checkIn, fetchToken, post, startCheckIn, tokenHeaders, VALID_CHECK_IN } from './helpers';

let simulator: VippsSimulator;
let token: string;

beforeEach(async () => {
	simulator = await VippsSimulator.start();
	token = await fetchToken(simulator);
});

afterEach(() => simulator.close());

/** Tracks whether a promise has settled, without waiting for it. */
function watch<T>(promise: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
	let settled = false;
	const observed = promise.finally(() => {
		settled = true;
	});
	observed.catch(() => undefined);
	return { settled: () => settled, promise: observed };
}

describe('fault kinds, as a real HTTP client sees them', () => {
	test('latency: the answer comes no sooner than asked, and is otherwise normal', async () => {
		simulator.injectFault({ fault: { kind: 'latency', ms: 150 } });

		const started = performance.now();
		const answer = await checkIn(simulator, token);
		const elapsed = performance.now() - started;

		expect(answer.status).toBe(200);
		expect(elapsed).toBeGreaterThanOrEqual(145);
		expect(simulator.requests.at(-1)).toMatchObject({ status: 200, fault: 'latency' });
	});

	test.each([500, 502, 503, 504] as const)('status %i: that status, no body', async (status) => {
		simulator.injectFault({ fault: { kind: 'status', status } });

		const answer = await checkIn(simulator, token);

		expect(answer).toMatchObject({ status, text: '' });
		expect(answer.headers['retry-after']).toBeUndefined();
		expect(simulator.requests.at(-1)).toMatchObject({ status, fault: 'status' });
	});

	test('status 503 with retryAfterSeconds sends Retry-After', async () => {
		simulator.injectFault({ fault: { kind: 'status', status: 503, retryAfterSeconds: 7 } });

		const answer = await checkIn(simulator, token);

		expect(answer.status).toBe(503);
		expect(answer.headers['retry-after']).toBe('7');
	});

	test('status 429: the gateway’s body; Retry-After only when retryAfterSeconds is given', async () => {
		simulator.injectFault({ fault: { kind: 'status', status: 429 } });
		simulator.injectFault({ fault: { kind: 'status', status: 429, retryAfterSeconds: 3 } });

		const without = await checkIn(simulator, token);
		const withHeader = await checkIn(simulator, token);

		expect(without.status).toBe(429);
		expect(without.headers['retry-after']).toBeUndefined();
		expect(JSON.parse(without.text)).toEqual({ statusCode: 429, message: 'Rate limit is exceeded. Try again in 1 seconds.' });
		expect(withHeader.status).toBe(429);
		expect(withHeader.headers['retry-after']).toBe('3');
		expect(JSON.parse(withHeader.text)).toEqual({ statusCode: 429, message: 'Rate limit is exceeded. Try again in 3 seconds.' });
	});

	test('expiredToken: 401 without a body for a good token, once', async () => {
		simulator.injectFault({ fault: { kind: 'expiredToken' } });

		const faulted = await checkIn(simulator, token);
		const next = await checkIn(simulator, token);

		expect(faulted).toMatchObject({ status: 401, text: '' });
		expect(next.status).toBe(200);
	});

	test.each([301, 302, 303, 307, 308] as const)('redirect %i: that status, the Location given, no body', async (status) => {
		simulator.injectFault({ fault: { kind: 'redirect', status, location: 'http://127.0.0.1:9/elsewhere' } });

		const answer = await checkIn(simulator, token);

		expect(answer).toMatchObject({ status, text: '' });
		expect(answer.headers.location).toBe('http://127.0.0.1:9/elsewhere');
		expect(simulator.requests.at(-1)).toMatchObject({ path: PATHS.checkIn, status, fault: 'redirect' });
	});

	test('reset: the whole request is read and recorded, then the connection is reset (ECONNRESET)', async () => {
		simulator.injectFault({ fault: { kind: 'reset' } });

		await expect(startCheckIn(simulator, token)).rejects.toMatchObject({ code: 'ECONNRESET' });
		expect(simulator.requests.at(-1)).toMatchObject({ path: PATHS.checkIn, status: 0, fault: 'reset', rawBody: VALID_CHECK_IN });
	});

	test('hang: never answered, while other requests are, until close()', async () => {
		simulator.injectFault({ fault: { kind: 'hang' } });
		const hanging = watch(startCheckIn(simulator, token));
		await simulator.waitForRequests(2);

		const meanwhile = await checkIn(simulator, token);
		expect(meanwhile.status).toBe(200);
		expect(hanging.settled()).toBe(false);
		expect(simulator.requests[1]).toMatchObject({ status: 0, fault: 'hang' });

		await simulator.close();
		await expect(hanging.promise).rejects.toThrow();
	});

	test('partialBody: status and headers arrive, the body never completes', async () => {
		simulator.injectFault({ fault: { kind: 'partialBody' } });

		const response = await startCheckIn(simulator, token);
		const body = watch(response.body.text());

		expect(response.statusCode).toBe(200);
		expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
		expect((await checkIn(simulator, token)).status).toBe(200);
		expect(body.settled()).toBe(false);

		await simulator.close();
		await expect(body.promise).rejects.toThrow();
		expect(simulator.requests[1]).toMatchObject({ status: 200, fault: 'partialBody' });
	});

	test('malformedJson: a complete 200 labelled JSON that does not parse', async () => {
		simulator.injectFault({ fault: { kind: 'malformedJson' } });

		const response = await startCheckIn(simulator, token);

		expect(response.statusCode).toBe(200);
		expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
		await expect(response.body.json()).rejects.toThrow(SyntaxError);
	});
});

describe('fault rules', () => {
	test('apply to the next matching request only, by default', async () => {
		simulator.injectFault({ fault: { kind: 'status', status: 500 } });

		expect((await checkIn(simulator, token)).status).toBe(500);
		expect((await checkIn(simulator, token)).status).toBe(200);
	});

	test('a path confines a rule to that endpoint', async () => {
		simulator.injectFault({ fault: { kind: 'status', status: 503 }, path: PATHS.checkIn });

		const tokenAnswer = await post(simulator, PATHS.accessToken, tokenHeaders(simulator));
		const checkInAnswer = await checkIn(simulator, token);

		expect(tokenAnswer.status).toBe(200);
		expect(checkInAnswer.status).toBe(503);
	});

	test('a phoneNumber confines a rule to check-ins for that number', async () => {
		simulator.injectFault({ fault: { kind: 'status', status: 500 }, phoneNumber: '4790000001', times: Infinity });

		const other = await checkIn(simulator, token, JSON.stringify({ phoneNumber: '4790000002', isMember: true }));
		const first = await checkIn(simulator, token, JSON.stringify({ phoneNumber: '4790000001', isMember: true }));
		const again = await checkIn(simulator, token, JSON.stringify({ phoneNumber: '4790000001', isMember: false }));
		const tokenAnswer = await post(simulator, PATHS.accessToken, tokenHeaders(simulator));

		expect([other.status, first.status, again.status, tokenAnswer.status]).toEqual([200, 500, 500, 200]);
	});

	test('times counts matching requests; rules are consulted in the order added', async () => {
		simulator.injectFault({ fault: { kind: 'status', status: 502 }, path: PATHS.checkIn, times: 2 });
		simulator.injectFault({ fault: { kind: 'status', status: 504 }, path: PATHS.checkIn });

		const statuses: number[] = [];
		for (let i = 0; i < 4; i++) statuses.push((await checkIn(simulator, token)).status);

		expect(statuses).toEqual([502, 502, 504, 200]);
	});

	test('clearFaults removes every rule', async () => {
		simulator.injectFault({ fault: { kind: 'status', status: 500 }, times: Infinity });

		simulator.clearFaults();

		expect((await checkIn(simulator, token)).status).toBe(200);
	});

	test.each([0, -1, 1.5, Number.NaN])('times %p is refused', (times) => {
		expect(() => simulator.injectFault({ fault: { kind: 'reset' }, times })).toThrow(RangeError);
	});
});

describe('latency', () => {
	test('setLatency delays every answer', async () => {
		simulator.setLatency(120);

		const started = performance.now();
		const answers = await Promise.all([checkIn(simulator, token), post(simulator, '/nowhere', {})]);
		const elapsed = performance.now() - started;

		expect(answers.map((answer) => answer.status)).toEqual([200, 404]);
		expect(elapsed).toBeGreaterThanOrEqual(115);
	});

	test('the latencyMs option does the same from the start', async () => {
		await simulator.close();
		simulator = await VippsSimulator.start({ latencyMs: 100 });

		const started = performance.now();
		await post(simulator, '/nowhere', {});

		expect(performance.now() - started).toBeGreaterThanOrEqual(95);
	});

	test('close() does not wait for delayed answers', async () => {
		simulator.setLatency(60_000);
		const delayed = watch(checkIn(simulator, token));
		await simulator.waitForRequests(2);

		await simulator.close();

		await expect(delayed.promise).rejects.toThrow();
	});

	test('a negative latency is refused', () => {
		expect(() => simulator.setLatency(-1)).toThrow(RangeError);
	});
});
