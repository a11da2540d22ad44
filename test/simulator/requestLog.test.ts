import { PATHS, VippsSimulator, type RecordedRequest } from '../../simulator/VippsSimulator';
import { apiHeaders, checkIn, fetchToken, manualClock, post, tokenHeaders, VALID_CHECK_IN } from './helpers';

let simulator: VippsSimulator;

afterEach(() => simulator.close());

const SYSTEM_HEADERS = {
	'Merchant-Serial-Number': '123456',
	'Vipps-System-Name': 'n8n',
	'Vipps-System-Version': '1.80.0',
	'Vipps-System-Plugin-Name': 'vipps-checkin',
	'Vipps-System-Plugin-Version': '0.1.0',
	'User-Agent': 'simulator-test',
};

describe('the request log', () => {
	test('records every request in arrival order, with parsed and raw body, status and clock time', async () => {
		const clock = manualClock();
		simulator = await VippsSimulator.start({ now: clock.now });

		const token = await fetchToken(simulator);
		clock.advance(5);
		await checkIn(simulator, token);
		await post(simulator, '/nowhere', {}, 'not json');

		expect(simulator.requests).toEqual([
			expect.objectContaining({ seq: 1, receivedAt: clock.now() - 5, method: 'POST', path: PATHS.accessToken, body: undefined, rawBody: '', status: 200 }),
			expect.objectContaining({ seq: 2, receivedAt: clock.now(), path: PATHS.checkIn, body: JSON.parse(VALID_CHECK_IN), rawBody: VALID_CHECK_IN, status: 200 }),
			expect.objectContaining({ seq: 3, path: '/nowhere', body: undefined, rawBody: 'not json', status: 404 }),
		]);
		expect(simulator.requests.some((recorded) => 'fault' in recorded)).toBe(false);
		expect(simulator.tokenRequests().map((recorded) => recorded.seq)).toEqual([1]);
		expect(simulator.checkInRequests().map((recorded) => recorded.seq)).toEqual([2]);
	});

	test('keeps identifying headers, redacts secret ones but keeps them present', async () => {
		simulator = await VippsSimulator.start();

		await post(simulator, PATHS.accessToken, { ...tokenHeaders(simulator), ...SYSTEM_HEADERS });
		const token = await fetchToken(simulator);
		await post(simulator, PATHS.checkIn, { ...apiHeaders(simulator, token), ...SYSTEM_HEADERS }, VALID_CHECK_IN);

		const [tokenRequest, , checkInRequest] = simulator.requests;
		expect(tokenRequest.headers).toMatchObject({
			client_id: simulator.keys.clientId,
			client_secret: '[redacted]',
			'ocp-apim-subscription-key': '[redacted]',
			'merchant-serial-number': '123456',
			'vipps-system-name': 'n8n',
			'vipps-system-version': '1.80.0',
			'vipps-system-plugin-name': 'vipps-checkin',
			'vipps-system-plugin-version': '0.1.0',
			'user-agent': 'simulator-test',
		});
		expect(checkInRequest.headers).toMatchObject({
			authorization: '[redacted]',
			'ocp-apim-subscription-key': '[redacted]',
			'content-type': 'application/json',
		});
	});

	test('holds no secret anywhere, wrong ones and misplaced ones included', async () => {
		simulator = await VippsSimulator.start();
		const { clientSecret, subscriptionKey } = simulator.keys;

		const token = await fetchToken(simulator);
		await post(simulator, PATHS.accessToken, { ...tokenHeaders(simulator), client_secret: 'my-wrong-secret' });
		await post(simulator, PATHS.accessToken, { ...tokenHeaders(simulator), 'Ocp-Apim-Subscription-Key': 'my-wrong-key' });
		await checkIn(simulator, token);
		// A client bug: secrets in a body and in a header of the wrong name.
		await post(
			simulator,
			PATHS.checkIn,
			{ ...apiHeaders(simulator, token), 'X-Debug': `${clientSecret} ${token}` },
			JSON.stringify({ phoneNumber: '4791234567', isMember: true, token, clientSecret, subscriptionKey }),
		);

		const log = JSON.stringify(simulator.requests);
		for (const secret of [clientSecret, subscriptionKey, token, 'my-wrong-secret', 'my-wrong-key']) {
			expect(log).not.toContain(secret);
		}
		expect(simulator.requests[4].body).toEqual({
			phoneNumber: '4791234567',
			isMember: true,
			token: '[redacted]',
			clientSecret: '[redacted]',
			subscriptionKey: '[redacted]',
		});
		expect(simulator.requests[4].headers['x-debug']).toBe('[redacted] [redacted]');
	});

	test('resetLog empties the log; waitForRequests resolves on arrival', async () => {
		simulator = await VippsSimulator.start();
		await fetchToken(simulator);

		simulator.resetLog();
		const arrived = simulator.waitForRequests(1);
		await post(simulator, '/nowhere', {});

		expect(await arrived).toEqual([expect.objectContaining({ seq: 2, path: '/nowhere' })]);
		expect(simulator.requests).toHaveLength(1);
	});

	test('onRequest is told of each request once its answer is decided', async () => {
		const seen: RecordedRequest[] = [];
		simulator = await VippsSimulator.start({ onRequest: (recorded) => seen.push(recorded) });

		await fetchToken(simulator);
		await post(simulator, '/nowhere', {});

		expect(seen.map((recorded) => [recorded.path, recorded.status])).toEqual([
			[PATHS.accessToken, 200],
			['/nowhere', 404],
		]);
	});
});

describe('start and close', () => {
	test('listens on loopback on a free port by default', async () => {
		simulator = await VippsSimulator.start();

		expect(simulator.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
	});

	test('close() ends kept-alive connections, and may be called twice', async () => {
		simulator = await VippsSimulator.start();
		await fetchToken(simulator);

		await simulator.close();
		await simulator.close();

		await expect(post(simulator, PATHS.accessToken, tokenHeaders(simulator))).rejects.toThrow();
	});
});
