import { derivedMsisdn, PATHS, VippsSimulator } from '../../simulator/VippsSimulator';
import { apiHeaders, checkIn, fetchToken, manualClock, post, type Answer } from './helpers';

const clock = manualClock();
let simulator: VippsSimulator;
let token: string;

beforeEach(async () => {
	simulator = await VippsSimulator.start({ now: clock.now });
	token = await fetchToken(simulator);
});

afterEach(() => simulator.close());

function exchange(body: unknown, headers = apiHeaders(simulator, token)): Promise<Answer> {
	return post(simulator, PATHS.qrExchange, headers, JSON.stringify(body));
}

const BAD_QR_CODE = {
	title: 'Bad request',
	status: 400,
	detail: 'The request body contains one or more invalid parameters.',
	extraDetails: [{ name: 'qrCode', reason: 'The complete data contained in the QR code is required.' }],
};

describe('POST /qr/v1/exchange', () => {
	test('exchanges a Vipps personal QR code for a stable Norwegian mobile number, version 2.0', async () => {
		const qrCode = 'https://qr.vipps.no/p/abc123';

		const first = await exchange({ qrCode, requestedData: ['MSISDN'] });
		const second = await exchange({ qrCode });

		expect(first.status).toBe(200);
		expect(JSON.parse(first.text)).toEqual({
			msisdn: derivedMsisdn(qrCode),
			version: '2.0',
			timestamp: clock.now() / 1000,
		});
		expect(JSON.parse(second.text)).toEqual(JSON.parse(first.text));
		expect(derivedMsisdn(qrCode)).toMatch(/^479[0-9]{7}$/);
		expect(derivedMsisdn('https://qr.vipps.no/p/other')).not.toBe(derivedMsisdn(qrCode));
	});

	test('the number it gives is one check-in accepts', async () => {
		const { msisdn } = JSON.parse((await exchange({ qrCode: 'https://qr.vipps.no/p/loyal-customer' })).text) as { msisdn: string };

		const answer = await checkIn(simulator, token, JSON.stringify({ phoneNumber: msisdn, isMember: true }));

		expect(answer.status).toBe(200);
	});

	test('a registered code exchanges to its number, whatever it looks like', async () => {
		simulator.registerPersonalQrCode('MP:tokenised-code-42', '4540123456');
		simulator.registerPersonalQrCode('https://qr.vipps.no/p/abc123', '4798765432');

		const mobilePay = await exchange({ qrCode: 'MP:tokenised-code-42' });
		const overridden = await exchange({ qrCode: 'https://qr.vipps.no/p/abc123' });

		expect(JSON.parse(mobilePay.text)).toMatchObject({ msisdn: '4540123456', version: '2.0' });
		expect(JSON.parse(overridden.text)).toEqual({ msisdn: '4798765432', version: '2.0', timestamp: clock.now() / 1000 });
	});

	test.each<[string, unknown]>([
		['a numeric string', '1634025600'],
		['an out-of-range number', 1e20],
		['null', null],
	])('a registered code can answer a timestamp the contract does not allow: %s', async (_label, timestamp) => {
		simulator.registerPersonalQrCode('https://qr.vipps.no/p/abc123', '4798765432', { timestamp });

		const answer = await exchange({ qrCode: 'https://qr.vipps.no/p/abc123' });

		expect(answer.status).toBe(200);
		expect(JSON.parse(answer.text)).toEqual({ msisdn: '4798765432', version: '2.0', timestamp });
	});

	test.each([
		['an unknown code', { qrCode: 'https://example.com/p/abc123' }],
		['only the end of a code', { qrCode: 'abc123' }],
		['an empty code', { qrCode: '' }],
		['no code', { requestedData: ['MSISDN'] }],
	])('refuses %s in the QR API’s own error shape', async (_case, body) => {
		const answer = await exchange(body);

		expect(answer.status).toBe(400);
		expect(JSON.parse(answer.text)).toEqual(BAD_QR_CODE);
	});

	test('refuses requested data other than MSISDN', async () => {
		const answer = await exchange({ qrCode: 'https://qr.vipps.no/p/abc123', requestedData: ['MSISDN', 'EMAIL'] });

		expect(answer.status).toBe(400);
		expect(JSON.parse(answer.text)).toMatchObject({ extraDetails: [{ name: 'requestedData' }] });
	});

	test('refuses a bad Merchant-Serial-Number', async () => {
		const answer = await exchange({ qrCode: 'https://qr.vipps.no/p/abc123' }, { ...apiHeaders(simulator, token), 'Merchant-Serial-Number': 'x' });

		expect(answer.status).toBe(400);
		expect(JSON.parse(answer.text)).toMatchObject({ status: 400, extraDetails: [{ name: 'Merchant-Serial-Number' }] });
	});

	test('needs the same token and subscription key as check-in', async () => {
		const badToken = await exchange({ qrCode: 'https://qr.vipps.no/p/abc123' }, apiHeaders(simulator, 'not-issued-here'));
		const badKey = await exchange(
			{ qrCode: 'https://qr.vipps.no/p/abc123' },
			{ ...apiHeaders(simulator, token), 'Ocp-Apim-Subscription-Key': 'wrong' },
		);

		expect(badToken).toMatchObject({ status: 401, text: '' });
		expect(badKey.status).toBe(401);
		expect(JSON.parse(badKey.text)).toMatchObject({ statusCode: 401 });
	});

	test("works in environment 'test', as Vipps's own examples call it on the test host", async () => {
		await simulator.close();
		simulator = await VippsSimulator.start({ environment: 'test' });
		token = await fetchToken(simulator);

		const answer = await exchange({ qrCode: 'https://qr.vipps.no/p/abc123' });

		expect(answer.status).toBe(200);
	});

	test('qrExchangeRequests lists the exchanges', async () => {
		await exchange({ qrCode: 'https://qr.vipps.no/p/abc123' });

		expect(simulator.qrExchangeRequests()).toHaveLength(1);
		expect(simulator.qrExchangeRequests()[0].body).toEqual({ qrCode: 'https://qr.vipps.no/p/abc123' });
	});
});
