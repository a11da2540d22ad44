import { PATHS, VippsSimulator, type GatewayThrottle } from '../../simulator/VippsSimulator';
import { checkIn, fetchToken, manualClock, post, tokenHeaders, type Answer } from './helpers';

let simulator: VippsSimulator;

afterEach(() => simulator.close());

describe('gateway rate limit (a sliding one-second window over all requests)', () => {
	test('answers 429 with Retry-After and API Management’s body once the window is full, and admits again as it slides', async () => {
		const clock = manualClock();
		simulator = await VippsSimulator.start({ now: clock.now, gateway: { requestsPerSecond: 2 } });

		const token = await fetchToken(simulator);
		clock.advance(300);
		const second = await checkIn(simulator, token);
		clock.advance(300);
		const third = await checkIn(simulator, token);
		clock.advance(399);
		const stillFull = await post(simulator, PATHS.accessToken, tokenHeaders(simulator));
		clock.advance(1);
		const slotFreed = await checkIn(simulator, token);

		expect(second.status).toBe(200);
		expect(third.status).toBe(429);
		expect(third.headers['retry-after']).toBe('1');
		expect(third.headers['content-type']).toBe('application/json');
		expect(JSON.parse(third.text)).toEqual({ statusCode: 429, message: 'Rate limit is exceeded. Try again in 1 seconds.' });
		expect(stillFull.status).toBe(429);
		expect(slotFreed.status).toBe(200);
	});

	test('rejected requests are logged with their 429', async () => {
		const clock = manualClock();
		simulator = await VippsSimulator.start({ now: clock.now, gateway: { requestsPerSecond: 1 } });

		await post(simulator, PATHS.accessToken, tokenHeaders(simulator));
		await post(simulator, PATHS.accessToken, tokenHeaders(simulator));

		expect(simulator.tokenRequests().map((recorded) => recorded.status)).toEqual([200, 429]);
	});

	test('counts requests of every path, unknown ones included', async () => {
		const clock = manualClock();
		simulator = await VippsSimulator.start({ now: clock.now, gateway: { requestsPerSecond: 1 } });

		const unknown = await post(simulator, '/nowhere', {});
		const tokenAnswer = await post(simulator, PATHS.accessToken, tokenHeaders(simulator));

		expect([unknown.status, tokenAnswer.status]).toEqual([404, 429]);
	});

	test('setGatewayLimit turns the limit on and off at run time', async () => {
		const clock = manualClock();
		simulator = await VippsSimulator.start({ now: clock.now });
		const send = async (): Promise<number> => (await post(simulator, PATHS.accessToken, tokenHeaders(simulator))).status;

		const unlimited = [await send(), await send(), await send()];
		simulator.setGatewayLimit({ requestsPerSecond: 1 });
		const limited = [await send(), await send()];
		simulator.setGatewayLimit(undefined);
		const liftedAgain = [await send(), await send()];

		expect(unlimited).toEqual([200, 200, 200]);
		expect(limited).toEqual([200, 429]);
		expect(liftedAgain).toEqual([200, 200]);
	});

	test('an injected fault bypasses the gateway and is not counted', async () => {
		const clock = manualClock();
		simulator = await VippsSimulator.start({ now: clock.now, gateway: { requestsPerSecond: 1 } });
		simulator.injectFault({ fault: { kind: 'status', status: 503 } });

		const faulted = await post(simulator, PATHS.accessToken, tokenHeaders(simulator));
		const admitted = await post(simulator, PATHS.accessToken, tokenHeaders(simulator));

		expect([faulted.status, admitted.status]).toEqual([503, 200]);
	});

	test.each([0, 0.5, -3])('a limit of %p is refused', async (requestsPerSecond) => {
		await expect(VippsSimulator.start({ gateway: { requestsPerSecond } })).rejects.toThrow(RangeError);
		simulator = await VippsSimulator.start();
		expect(() => simulator.setGatewayLimit({ requestsPerSecond })).toThrow(RangeError);
	});
});

describe('gateway rate limit in fixed windows (the count starts again at every whole second)', () => {
	const WHOLE_SECOND = Date.UTC(2025, 0, 1, 12);

	test('refuses the window’s extra requests with a Retry-After rounded up to a whole second, and admits a full window right after the boundary', async () => {
		const clock = manualClock(WHOLE_SECOND + 100);
		simulator = await VippsSimulator.start({ now: clock.now, gateway: { requestsPerSecond: 2, window: 'fixed' } });
		const send = () => post(simulator, PATHS.accessToken, tokenHeaders(simulator));

		const inFirstWindow = [await send(), await send(), await send()];
		clock.advance(899); // 1 ms before the window ends
		const lastMillisecond = await send();
		clock.advance(1);
		const nextWindow = [await send(), await send(), await send()];

		expect(inFirstWindow.map((answer) => answer.status)).toEqual([200, 200, 429]);
		const refused = inFirstWindow[2];
		expect(refused.headers['retry-after']).toBe('1');
		expect(refused.headers['content-type']).toBe('application/json');
		expect(JSON.parse(refused.text)).toEqual({ statusCode: 429, message: 'Rate limit is exceeded. Try again in 1 seconds.' });
		expect(lastMillisecond.status).toBe(429);
		expect(lastMillisecond.headers['retry-after']).toBe('1');
		// A sliding window would still hold the first two: a fixed one has forgotten them.
		expect(nextWindow.map((answer) => answer.status)).toEqual([200, 200, 429]);
	});

	test('setGatewayLimit chooses the window kind at run time', async () => {
		const clock = manualClock(WHOLE_SECOND + 900);
		simulator = await VippsSimulator.start({ now: clock.now });
		const send = async (): Promise<number> => (await post(simulator, PATHS.accessToken, tokenHeaders(simulator))).status;

		simulator.setGatewayLimit({ requestsPerSecond: 1, window: 'fixed' });
		const fixed = [await send(), await send()];
		clock.advance(100);
		fixed.push(await send());
		simulator.setGatewayLimit({ requestsPerSecond: 1, window: 'sliding' });
		const sliding = [await send()];
		clock.advance(100);
		sliding.push(await send());

		expect(fixed).toEqual([200, 429, 200]);
		expect(sliding).toEqual([200, 429]);
	});

	test('an unknown window kind is refused', async () => {
		simulator = await VippsSimulator.start();
		expect(() => simulator.setGatewayLimit({ requestsPerSecond: 5, window: 'leaky' as 'fixed' })).toThrow(RangeError);
	});
});

describe('when the gateway’s 429 leaves', () => {
	/** Far longer than any test waits: an answer that needs it has surely not come yet. */
	const LONG_LATENCY_MS = 60_000;

	/** One admitted request, held by the latency, then one the full window refuses: the refusal's answer. */
	async function refusalBehindAHeldRequest(throttle: GatewayThrottle | undefined): Promise<{ refused: Promise<Answer> }> {
		simulator = await VippsSimulator.start({
			now: manualClock().now, // a frozen clock: both requests fall in one window
			latencyMs: LONG_LATENCY_MS,
			gateway: { requestsPerSecond: 1, window: 'fixed', ...(throttle && { throttle }) },
		});
		post(simulator, PATHS.accessToken, tokenHeaders(simulator)).catch(() => undefined); // close() ends it
		await simulator.waitForRequests(1);
		const refused = post(simulator, PATHS.accessToken, tokenHeaders(simulator));
		refused.catch(() => undefined);
		await simulator.waitForRequests(2);
		expect(simulator.requests.map((recorded) => recorded.status)).toEqual([200, 429]);
		return { refused };
	}

	test('by default at once: API Management refuses at the gateway, without waiting for the backend’s latency', async () => {
		// Were it held for the latency, this would outlast the test's timeout.
		const answer = await (await refusalBehindAHeldRequest(undefined)).refused;
		expect(answer).toMatchObject({ status: 429, headers: { 'retry-after': '1' } });
	});

	test("with throttle 'instant', the same", async () => {
		expect(await (await refusalBehindAHeldRequest('instant')).refused).toMatchObject({ status: 429 });
	});

	test("with throttle 'after-latency', the 429 waits for the latency, as an answer does", async () => {
		const { refused } = await refusalBehindAHeldRequest('after-latency');
		const stillWaiting = new Promise((resolve) => setTimeout(resolve, 200, 'still waiting'));
		expect(await Promise.race([refused, stillWaiting])).toBe('still waiting');
	});

	test('an unknown throttle is refused', async () => {
		simulator = await VippsSimulator.start();
		expect(() => simulator.setGatewayLimit({ requestsPerSecond: 5, throttle: 'later' as 'instant' })).toThrow(RangeError);
	});
});
