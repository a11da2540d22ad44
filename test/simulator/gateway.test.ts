import { PATHS, VippsSimulator } from '../../simulator/VippsSimulator';
import { checkIn, fetchToken, manualClock, post, tokenHeaders } from './helpers';

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
		simulator.setGatewayLimit(1);
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
		expect(() => simulator.setGatewayLimit(requestsPerSecond)).toThrow(RangeError);
	});
});
