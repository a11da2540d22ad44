import { DEFAULT_SIMULATOR_KEYS, PATHS, VippsSimulator } from '../../simulator/VippsSimulator';
import { checkIn, fetchToken, manualClock, post, tokenHeaders } from './helpers';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const INVALID_KEY_BODY = {
	statusCode: 401,
	message: 'Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.',
};

let simulator: VippsSimulator;

afterEach(() => simulator.close());

describe('POST /accesstoken/get', () => {
	test('answers the real shape: every value a string, expiry from the clock', async () => {
		const clock = manualClock();
		simulator = await VippsSimulator.start({ now: clock.now });

		const answer = await post(simulator, PATHS.accessToken, tokenHeaders(simulator));
		const body = JSON.parse(answer.text) as Record<string, unknown>;
		const nowSeconds = clock.now() / 1000;

		expect(answer.status).toBe(200);
		expect(answer.headers['content-type']).toBe('application/json;charset=UTF-8');
		expect(body).toEqual({
			token_type: 'Bearer',
			expires_in: '3600',
			ext_expires_in: '3600',
			expires_on: String(nowSeconds + 3600),
			not_before: String(nowSeconds),
			resource: '00000002-0000-0000-c000-000000000000',
			access_token: expect.stringMatching(/^eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+$/),
		});
	});

	test('issues a different JWT-looking token on every fetch, carrying the client id; issuedTokens lists them all', async () => {
		simulator = await VippsSimulator.start();

		const first = await fetchToken(simulator);
		const second = await fetchToken(simulator);
		const claims = JSON.parse(Buffer.from(first.split('.')[1], 'base64url').toString()) as Record<string, unknown>;

		expect(first).not.toBe(second);
		expect(claims).toMatchObject({ appid: DEFAULT_SIMULATOR_KEYS.clientId, ver: '1.0' });
		simulator.expireAllTokens();
		expect(simulator.issuedTokens()).toEqual([first, second]);
	});

	test('uses the configured keys and lifetime', async () => {
		const keys = { clientId: '0a0b0c0d-0000-4000-8000-000000000abc', clientSecret: 's3', subscriptionKey: 'k3' };
		simulator = await VippsSimulator.start({ keys, tokenLifetimeSeconds: 86400 });

		const answer = await post(simulator, PATHS.accessToken, {
			client_id: keys.clientId,
			client_secret: keys.clientSecret,
			'Ocp-Apim-Subscription-Key': keys.subscriptionKey,
		});

		expect(simulator.keys).toEqual(keys);
		expect(JSON.parse(answer.text)).toMatchObject({ expires_in: '86400', ext_expires_in: '86400' });
	});

	test('refuses a lifetime that is not a whole number of seconds', async () => {
		await expect(VippsSimulator.start({ tokenLifetimeSeconds: 0.5 })).rejects.toThrow(RangeError);
		simulator = await VippsSimulator.start();
	});
});

describe('token expiry', () => {
	test('a token works until expires_on, then answers 401 without a body', async () => {
		const clock = manualClock();
		simulator = await VippsSimulator.start({ now: clock.now, tokenLifetimeSeconds: 1 });
		const token = await fetchToken(simulator);

		clock.advance(999);
		const stillValid = await checkIn(simulator, token);
		clock.advance(1);
		const expired = await checkIn(simulator, token);

		expect(stillValid.status).toBe(200);
		expect(expired).toMatchObject({ status: 401, text: '' });
		expect((await checkIn(simulator, await fetchToken(simulator))).status).toBe(200);
	});

	test('expireAllTokens invalidates every token issued so far, not later ones', async () => {
		simulator = await VippsSimulator.start();
		const before = await fetchToken(simulator);

		simulator.expireAllTokens();
		const after = await fetchToken(simulator);

		expect(await checkIn(simulator, before)).toMatchObject({ status: 401, text: '' });
		expect((await checkIn(simulator, after)).status).toBe(200);
	});
});

describe('401 answers name the wrong credential in the shape the real service uses', () => {
	beforeEach(async () => {
		simulator = await VippsSimulator.start();
	});

	test('an empty subscription key is invalid; a missing one gets API Management’s "missing" body', async () => {
		const answer = await post(simulator, PATHS.accessToken, { ...tokenHeaders(simulator), 'Ocp-Apim-Subscription-Key': '' });
		const { 'Ocp-Apim-Subscription-Key': _dropped, ...withoutKey } = tokenHeaders(simulator);
		const missing = await post(simulator, PATHS.accessToken, withoutKey);

		expect(answer.status).toBe(401);
		expect(JSON.parse(answer.text)).toEqual(INVALID_KEY_BODY);
		expect(missing.status).toBe(401);
		expect(JSON.parse(missing.text)).toEqual({
			statusCode: 401,
			message: 'Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.',
		});
	});

	test('wrong subscription key: API Management’s "invalid" body, before the client is even looked at', async () => {
		const answer = await post(simulator, PATHS.accessToken, {
			...tokenHeaders(simulator),
			client_id: 'whatever',
			'Ocp-Apim-Subscription-Key': 'wrong-key',
		});

		expect(answer.status).toBe(401);
		expect(answer.headers['content-type']).toBe('application/json');
		expect(JSON.parse(answer.text)).toEqual(INVALID_KEY_BODY);
	});

	test('unknown client_id: Azure AD’s unauthorized_client AADSTS700016, naming the id', async () => {
		const unknownId = '11111111-2222-4333-8444-555555555555';
		const answer = await post(simulator, PATHS.accessToken, { ...tokenHeaders(simulator), client_id: unknownId });
		const body = JSON.parse(answer.text) as Record<string, unknown>;

		expect(answer.status).toBe(401);
		expect(body).toEqual({
			error: 'unauthorized_client',
			error_description: expect.stringMatching(
				new RegExp(
					`^AADSTS700016: Application with identifier '${unknownId}' was not found in the directory '.+'\\.[^]*` +
						`\r\nTrace ID: ${body.trace_id}\r\nCorrelation ID: ${body.correlation_id}\r\nTimestamp: ${body.timestamp}$`,
				),
			),
			error_codes: [700016],
			timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/),
			trace_id: expect.stringMatching(UUID),
			correlation_id: expect.stringMatching(UUID),
			error_uri: 'https://login.microsoftonline.com/error?code=700016',
		});
		expect(answer.text).not.toContain(simulator.keys.clientSecret);
	});

	test('a client_id that is not a GUID is not echoed: users who swap id and secret would see their secret', async () => {
		const answer = await post(simulator, PATHS.accessToken, { ...tokenHeaders(simulator), client_id: simulator.keys.clientSecret });

		expect(answer.status).toBe(401);
		expect(JSON.parse(answer.text)).toMatchObject({ error: 'unauthorized_client', error_codes: [700016] });
		expect(answer.text).not.toContain(simulator.keys.clientSecret);
	});

	test('wrong client_secret: Azure AD’s invalid_client AADSTS7000215, never echoing the secret', async () => {
		const answer = await post(simulator, PATHS.accessToken, { ...tokenHeaders(simulator), client_secret: 'my-wrong-secret' });
		const body = JSON.parse(answer.text) as { error: string; error_description: string; error_codes: number[] };

		expect(answer.status).toBe(401);
		expect(body.error).toBe('invalid_client');
		expect(body.error_codes).toEqual([7000215]);
		expect(body.error_description).toMatch(
			new RegExp(`^AADSTS7000215: Invalid client secret provided\\. .*'${simulator.keys.clientId}'`),
		);
		expect(answer.text).not.toContain('my-wrong-secret');
		expect(answer.text).not.toContain(simulator.keys.clientSecret);
	});

	test('missing client_secret: invalid_client AADSTS7000218; missing client_id: invalid_request AADSTS900144 (400)', async () => {
		const { client_secret: _secret, ...noSecret } = tokenHeaders(simulator);
		const { client_id: _id, ...noId } = tokenHeaders(simulator);

		const withoutSecret = await post(simulator, PATHS.accessToken, noSecret);
		const withoutId = await post(simulator, PATHS.accessToken, noId);

		expect(withoutSecret.status).toBe(401);
		expect(JSON.parse(withoutSecret.text)).toMatchObject({ error: 'invalid_client', error_codes: [7000218] });
		expect(withoutId.status).toBe(400);
		expect(JSON.parse(withoutId.text)).toMatchObject({ error: 'invalid_request', error_codes: [900144] });
	});
});

describe('Merchant-Serial-Number and Vipps-System-* headers', () => {
	beforeEach(async () => {
		simulator = await VippsSimulator.start();
	});

	test.each(['1234', '123456', '1234567'])('MSN %s is accepted', async (msn) => {
		const answer = await post(simulator, PATHS.accessToken, { ...tokenHeaders(simulator), 'Merchant-Serial-Number': msn });

		expect(answer.status).toBe(200);
	});

	test.each(['', '123', '12345678', '12 456', 'abcd'])('MSN %j is refused with 400', async (msn) => {
		const answer = await post(simulator, PATHS.accessToken, { ...tokenHeaders(simulator), 'Merchant-Serial-Number': msn });

		expect(answer.status).toBe(400);
		expect(JSON.parse(answer.text)).toEqual({ statusCode: 400, message: 'The Merchant-Serial-Number must be 4 to 7 digits.' });
	});

	test('Vipps-System-* values may be 30 characters, not 31', async () => {
		const ok = await post(simulator, PATHS.accessToken, { ...tokenHeaders(simulator), 'Vipps-System-Plugin-Name': 'p'.repeat(30) });
		const tooLong = await post(simulator, PATHS.accessToken, { ...tokenHeaders(simulator), 'Vipps-System-Plugin-Name': 'p'.repeat(31) });

		expect(ok.status).toBe(200);
		expect(tooLong.status).toBe(400);
		expect(JSON.parse(tooLong.text)).toEqual({
			statusCode: 400,
			message: 'The Vipps-System-Plugin-Name header must be at most 30 characters.',
		});
	});
});
