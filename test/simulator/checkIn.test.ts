import { request } from 'undici';
import { PATHS, VippsSimulator } from '../../simulator/VippsSimulator';
import { apiHeaders, checkIn, fetchToken, post, VALID_CHECK_IN } from './helpers';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let simulator: VippsSimulator;
let token: string;

afterEach(() => simulator.close());

describe('POST /point-of-sale/v1/loyalty-check-in', () => {
	beforeEach(async () => {
		simulator = await VippsSimulator.start();
		token = await fetchToken(simulator);
	});

	test('answers a valid check-in with its id, a GUID written as a JSON string', async () => {
		const answer = await checkIn(simulator, token);

		expect(answer.status).toBe(200);
		expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
		expect(answer.text).toMatch(/^"[0-9a-f-]{36}"$/);
		expect(JSON.parse(answer.text)).toMatch(GUID);
	});

	test('gives every check-in its own id', async () => {
		const first = await checkIn(simulator, token);
		const second = await checkIn(simulator, token);

		expect(first.text).not.toBe(second.text);
	});

	test('refuses a bad body with RFC 7807 problem details listing every invalid field', async () => {
		const answer = await checkIn(simulator, token, JSON.stringify({ phoneNumber: 4791234567, isMember: 'yes', shop: 'Oslo' }));
		const body = JSON.parse(answer.text) as Record<string, unknown>;

		expect(answer.status).toBe(400);
		expect(body).toEqual({
			type: 'https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.1',
			title: 'One or more validation errors occurred.',
			detail: 'BadRequest',
			instance: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/),
			invalidParams: [
				{ name: 'phoneNumber', reason: 'The JSON value could not be converted to System.String.' },
				{ name: 'isMember', reason: 'The JSON value could not be converted to System.Boolean.' },
				{ name: 'shop', reason: 'The field shop is not part of a check-in; send only phoneNumber and isMember.' },
			],
		});
	});

	test.each([
		['a 9-digit number', JSON.stringify({ phoneNumber: '479123456', isMember: true }), 'phoneNumber', /MSISDN format.*\^47\[0-9\]\{8\}\$/],
		['a null phoneNumber', JSON.stringify({ phoneNumber: null, isMember: true }), 'phoneNumber', /^The phoneNumber field is required\.$/],
		['no isMember', JSON.stringify({ phoneNumber: '4791234567' }), 'isMember', /^The isMember field is required\.$/],
		['a body that is not JSON', '{"phoneNumber": "4791234567", ', '$', /not valid JSON/],
		['a JSON string', '"4791234567"', '$', /must be a JSON object/],
		['JSON null', 'null', '$', /must be a JSON object/],
		['an empty body', '', '$', /non-empty request body/],
	])('refuses %s', async (_case, body, name, reason) => {
		const answer = await checkIn(simulator, token, body);
		const { invalidParams } = JSON.parse(answer.text) as { invalidParams: Array<{ name: string; reason: string }> };

		expect(answer.status).toBe(400);
		expect(invalidParams).toEqual([{ name, reason: expect.stringMatching(reason) }]);
	});

	test('refuses a body that is not labelled application/json', async () => {
		const answer = await post(simulator, PATHS.checkIn, { ...apiHeaders(simulator, token), 'Content-Type': 'text/plain' }, VALID_CHECK_IN);

		expect(answer.status).toBe(400);
		expect(JSON.parse(answer.text)).toMatchObject({ invalidParams: [{ name: 'Content-Type' }] });
	});

	test('refuses a bad Merchant-Serial-Number or an over-long Vipps-System-* header alongside body problems', async () => {
		const answer = await post(
			simulator,
			PATHS.checkIn,
			{ ...apiHeaders(simulator, token), 'Merchant-Serial-Number': '12', 'Vipps-System-Name': 'n'.repeat(31) },
			JSON.stringify({ phoneNumber: '4791234567' }),
		);

		expect(answer.status).toBe(400);
		expect(JSON.parse(answer.text)).toMatchObject({
			invalidParams: [{ name: 'Merchant-Serial-Number' }, { name: 'Vipps-System-Name' }, { name: 'isMember' }],
		});
	});

	test('answers 401 without a body when the bearer token is missing, unknown or not a Bearer', async () => {
		const { Authorization: _dropped, ...noAuthorization } = apiHeaders(simulator, token);
		const body = JSON.stringify({ phoneNumber: '4791234567', isMember: true });

		const answers = await Promise.all([
			post(simulator, PATHS.checkIn, noAuthorization, body),
			post(simulator, PATHS.checkIn, { ...noAuthorization, Authorization: 'Bearer not-issued-here' }, body),
			post(simulator, PATHS.checkIn, { ...noAuthorization, Authorization: token }, body),
		]);

		for (const answer of answers) expect(answer).toMatchObject({ status: 401, text: '' });
	});

	test('checks the subscription key before the token: API Management’s 401 body', async () => {
		const answer = await post(
			simulator,
			PATHS.checkIn,
			{ ...apiHeaders(simulator, 'not-issued-here'), 'Ocp-Apim-Subscription-Key': 'wrong' },
			JSON.stringify({ phoneNumber: '4791234567', isMember: true }),
		);

		expect(answer.status).toBe(401);
		expect(JSON.parse(answer.text)).toMatchObject({ statusCode: 401, message: expect.stringContaining('invalid subscription key') });
	});

	test('accepts the token scheme in any case, as HTTP does', async () => {
		const answer = await post(
			simulator,
			PATHS.checkIn,
			{ ...apiHeaders(simulator, token), Authorization: `bearer ${token}` },
			JSON.stringify({ phoneNumber: '4791234567', isMember: false }),
		);

		expect(answer.status).toBe(200);
	});
});

describe('check-in response styles', () => {
	test.each([
		['jsonString', (text: string) => JSON.parse(text) as string],
		['object', (text: string) => (JSON.parse(text) as { id: string }).id],
		['rawText', (text: string) => text],
	] as const)('%s', async (style, readId) => {
		simulator = await VippsSimulator.start({ checkInResponseStyle: style });
		const answer = await checkIn(simulator, await fetchToken(simulator));

		expect(answer.status).toBe(200);
		expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
		expect(readId(answer.text)).toMatch(GUID);
	});

	test('rawText is labelled JSON yet is not JSON, as spec-generated mock servers answer', async () => {
		simulator = await VippsSimulator.start({ checkInResponseStyle: 'rawText' });
		const answer = await checkIn(simulator, await fetchToken(simulator));

		expect(() => JSON.parse(answer.text)).toThrow(SyntaxError);
	});

	test('setCheckInResponseStyle switches the style of the next answers', async () => {
		simulator = await VippsSimulator.start();
		token = await fetchToken(simulator);

		simulator.setCheckInResponseStyle('object');
		const asObject = await checkIn(simulator, token);
		simulator.setCheckInResponseStyle('jsonString');
		const asString = await checkIn(simulator, token);

		expect(JSON.parse(asObject.text)).toEqual({ id: expect.stringMatching(GUID) });
		expect(JSON.parse(asString.text)).toEqual(expect.stringMatching(GUID));
	});
});

describe("environment 'test' (the Merchant Test environment)", () => {
	beforeEach(async () => {
		simulator = await VippsSimulator.start({ environment: 'test' });
	});

	test('issues tokens, then answers every authorised check-in with 500 and no body', async () => {
		token = await fetchToken(simulator);

		const valid = await checkIn(simulator, token);
		const invalid = await checkIn(simulator, token, JSON.stringify({ phoneNumber: 'nope' }));

		expect(valid).toMatchObject({ status: 500, text: '' });
		expect(invalid).toMatchObject({ status: 500, text: '' });
	});

	test('still answers 401 first when the token is wrong', async () => {
		const answer = await checkIn(simulator, 'not-issued-here');

		expect(answer).toMatchObject({ status: 401, text: '' });
	});
});

describe('routing', () => {
	beforeEach(async () => {
		simulator = await VippsSimulator.start();
	});

	test('an unknown path gets the gateway’s 404, paths being spelled exactly as in the contracts', async () => {
		for (const path of ['/v1/loyalty-check-in', '/accessToken/get', `${PATHS.checkIn}/`, '/']) {
			const answer = await post(simulator, path, {});

			expect(answer.status).toBe(404);
			expect(JSON.parse(answer.text)).toEqual({ statusCode: 404, message: 'Resource not found' });
		}
	});

	test('another method on a known path gets 405 with Allow: POST', async () => {
		const response = await request(`${simulator.baseUrl}${PATHS.checkIn}`, { method: 'GET' });
		await response.body.dump();

		expect(response.statusCode).toBe(405);
		expect(response.headers.allow).toBe('POST');
	});

	test('a query string does not change the path', async () => {
		const answer = await post(simulator, `${PATHS.checkIn}?debug=1`, {});

		expect(answer.status).toBe(401);
		expect(simulator.requests[0].path).toBe(PATHS.checkIn);
	});
});
