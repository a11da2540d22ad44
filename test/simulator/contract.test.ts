import {
	contractApiRoot,
	contractBackend,
	contractDocument,
	validateAgainstContract,
	validateContractRequest,
	type ContractName,
} from '../../simulator/contract';
import { PATHS, VippsSimulator, type RecordedRequest } from '../../simulator/VippsSimulator';
import { fetchToken, post, type Answer } from './helpers';

// The simulator is checked against the official contracts (simulator/contract/*.yaml) through
// openapi-backend: for each request below, the simulator must accept (200) exactly what the
// contract's validator accepts and reject (400/401) what it rejects. Where the simulator departs
// from the contract on purpose, the departure has its own table with the reason.

interface Row {
	name: string;
	contract: ContractName;
	/** Header changes from the contract's complete, valid set; undefined removes the header. */
	headers?: Record<string, string | undefined>;
	/** Raw body; leave out for the contract's valid default, undefined for none. */
	body?: string | undefined;
	/** The simulator's answer, which also says what the contract's validator must conclude (200 ⇔ valid). */
	status: 200 | 400 | 401;
}

/** The part of the access-token contract the token test reads. */
interface TokenContract {
	components: {
		schemas: { AuthorizationTokenResponse: { required: string[]; properties: Record<string, { type: string }> } };
	};
}

interface Departure extends Row {
	/** Why the simulator answers otherwise than the contract's validator. */
	why: string;
}

const SYSTEM_HEADERS = {
	'Merchant-Serial-Number': '123456',
	'Vipps-System-Name': 'n8n',
	'Vipps-System-Version': '1.80.0',
	'Vipps-System-Plugin-Name': 'n8n-nodes-vipps-checkin',
	'Vipps-System-Plugin-Version': '0.1.0',
};
const WITHOUT_OPTIONAL_HEADERS = Object.fromEntries(Object.keys(SYSTEM_HEADERS).map((name) => [name, undefined]));
const VALID_QR_CODE = 'https://qr.vipps.no/p/contract-test';
const DEFAULT_BODIES: Record<ContractName, string | undefined> = {
	accessToken: undefined,
	checkIn: JSON.stringify({ phoneNumber: '4791234567', isMember: true }),
	qr: JSON.stringify({ qrCode: VALID_QR_CODE }),
};
const PATH_OF: Record<ContractName, string> = {
	accessToken: PATHS.accessToken,
	checkIn: PATHS.checkIn,
	qr: PATHS.qrExchange,
};

let simulator: VippsSimulator;
let token: string;

beforeAll(async () => {
	simulator = await VippsSimulator.start();
	token = await fetchToken(simulator);
});

afterAll(() => simulator.close());

function defaultHeaders(contract: ContractName): Record<string, string> {
	const { clientId, clientSecret, subscriptionKey } = simulator.keys;
	if (contract === 'accessToken') {
		return { client_id: clientId, client_secret: clientSecret, 'Ocp-Apim-Subscription-Key': subscriptionKey, ...SYSTEM_HEADERS };
	}
	return {
		Authorization: `Bearer ${token}`,
		'Ocp-Apim-Subscription-Key': subscriptionKey,
		'Content-Type': 'application/json',
		...SYSTEM_HEADERS,
	};
}

function headersFor(row: Row): Record<string, string> {
	const headers: Record<string, string | undefined> = { ...defaultHeaders(row.contract), ...row.headers };
	return Object.fromEntries(Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

function bodyFor(row: Row): string | undefined {
	return 'body' in row ? row.body : DEFAULT_BODIES[row.contract];
}

/** What the official contract says, through a fully initialised OpenAPIBackend. */
async function officialVerdict(row: Row): Promise<{ valid: boolean; errors: unknown }> {
	const backend = await contractBackend(row.contract);
	const result = backend.validateRequest({ method: 'POST', path: PATH_OF[row.contract], headers: headersFor(row), body: bodyFor(row) });
	return { valid: result.valid, errors: result.errors };
}

async function send(row: Row): Promise<{ answer: Answer; recorded: RecordedRequest }> {
	const answer = await post(simulator, PATH_OF[row.contract], headersFor(row), bodyFor(row));
	const recorded = simulator.requests[simulator.requests.length - 1];
	return { answer, recorded };
}

const long = 'x'.repeat(31);
const phone = (phoneNumber: unknown, isMember: unknown = true): string => JSON.stringify({ phoneNumber, isMember });

const AGREEMENT: Row[] = [
	// Check-in
	{ name: 'check-in: complete valid request', contract: 'checkIn', status: 200 },
	{ name: 'check-in: only the required headers', contract: 'checkIn', headers: WITHOUT_OPTIONAL_HEADERS, status: 200 },
	{ name: 'check-in: isMember false', contract: 'checkIn', body: phone('4791234567', false), status: 200 },
	{ name: 'check-in: Content-Type with charset', contract: 'checkIn', headers: { 'Content-Type': 'application/json; charset=utf-8' }, status: 200 },
	{ name: 'check-in: phoneNumber as a JSON number', contract: 'checkIn', body: phone(4791234567), status: 400 },
	{ name: 'check-in: 9-digit phoneNumber', contract: 'checkIn', body: phone('479123456'), status: 400 },
	{ name: 'check-in: 11-digit phoneNumber', contract: 'checkIn', body: phone('47912345678'), status: 400 },
	{ name: 'check-in: phoneNumber with +', contract: 'checkIn', body: phone('+4791234567'), status: 400 },
	{ name: 'check-in: Danish phoneNumber', contract: 'checkIn', body: phone('4591234567'), status: 400 },
	{ name: 'check-in: missing isMember', contract: 'checkIn', body: JSON.stringify({ phoneNumber: '4791234567' }), status: 400 },
	{ name: 'check-in: missing phoneNumber', contract: 'checkIn', body: JSON.stringify({ isMember: true }), status: 400 },
	{ name: 'check-in: isMember as the string "true"', contract: 'checkIn', body: phone('4791234567', 'true'), status: 400 },
	{ name: 'check-in: body not JSON', contract: 'checkIn', body: 'phoneNumber=4791234567', status: 400 },
	{ name: 'check-in: body a JSON array', contract: 'checkIn', body: '[]', status: 400 },
	{ name: 'check-in: Vipps-System-Name of 31 characters', contract: 'checkIn', headers: { 'Vipps-System-Name': long }, status: 400 },
	{ name: 'check-in: Vipps-System-Plugin-Version of 31 characters', contract: 'checkIn', headers: { 'Vipps-System-Plugin-Version': long }, status: 400 },
	{ name: 'check-in: missing Authorization', contract: 'checkIn', headers: { Authorization: undefined }, status: 401 },
	{ name: 'check-in: missing Ocp-Apim-Subscription-Key', contract: 'checkIn', headers: { 'Ocp-Apim-Subscription-Key': undefined }, status: 401 },
	// Access token
	{ name: 'token: complete valid request', contract: 'accessToken', status: 200 },
	{ name: 'token: only the required headers', contract: 'accessToken', headers: WITHOUT_OPTIONAL_HEADERS, status: 200 },
	{ name: 'token: 4-digit MSN', contract: 'accessToken', headers: { 'Merchant-Serial-Number': '1234' }, status: 200 },
	{ name: 'token: missing client_id', contract: 'accessToken', headers: { client_id: undefined }, status: 400 },
	{ name: 'token: client_id not a GUID', contract: 'accessToken', headers: { client_id: 'my-client' }, status: 401 },
	{ name: 'token: missing client_secret', contract: 'accessToken', headers: { client_secret: undefined }, status: 401 },
	{ name: 'token: missing Ocp-Apim-Subscription-Key', contract: 'accessToken', headers: { 'Ocp-Apim-Subscription-Key': undefined }, status: 401 },
	{ name: 'token: 3-digit MSN', contract: 'accessToken', headers: { 'Merchant-Serial-Number': '123' }, status: 400 },
	{ name: 'token: MSN with letters', contract: 'accessToken', headers: { 'Merchant-Serial-Number': '12a456' }, status: 400 },
	{ name: 'token: empty MSN', contract: 'accessToken', headers: { 'Merchant-Serial-Number': '' }, status: 400 },
	{ name: 'token: Vipps-System-Version of 31 characters', contract: 'accessToken', headers: { 'Vipps-System-Version': long }, status: 400 },
	// QR exchange
	{ name: 'qr: qrCode only', contract: 'qr', status: 200 },
	{ name: 'qr: requestedData MSISDN', contract: 'qr', body: JSON.stringify({ qrCode: VALID_QR_CODE, requestedData: ['MSISDN'] }), status: 200 },
	{ name: 'qr: an extra field (the contract allows it, and so does the simulator)', contract: 'qr', body: JSON.stringify({ qrCode: VALID_QR_CODE, note: 'x' }), status: 200 },
	{ name: 'qr: requestedData EMAIL', contract: 'qr', body: JSON.stringify({ qrCode: VALID_QR_CODE, requestedData: ['EMAIL'] }), status: 400 },
	{ name: 'qr: missing qrCode', contract: 'qr', body: JSON.stringify({ requestedData: ['MSISDN'] }), status: 400 },
	{ name: 'qr: qrCode a number', contract: 'qr', body: JSON.stringify({ qrCode: 4791234567 }), status: 400 },
	{ name: 'qr: no body (required by the contract)', contract: 'qr', body: undefined, status: 400 },
	{ name: 'qr: missing Authorization', contract: 'qr', headers: { Authorization: undefined }, status: 401 },
];

const STRICTER: Departure[] = [
	{
		name: 'check-in: phoneNumber null',
		contract: 'checkIn',
		body: phone(null),
		status: 400,
		why: 'the contract marks phoneNumber nullable, yet required; a check-in without a number cannot be shown to anyone',
	},
	{
		name: 'check-in: isMember null',
		contract: 'checkIn',
		body: phone('4791234567', null),
		status: 400,
		why: 'the contract marks isMember nullable, yet required; the app must be told member or not',
	},
	{
		name: 'check-in: an extra field',
		contract: 'checkIn',
		body: JSON.stringify({ phoneNumber: '4791234567', isMember: true, name: 'Kari' }),
		status: 400,
		why: 'the contract does not forbid extra fields, but the body is "both fields, nothing else" (NOTES §2): an extra field is a client bug',
	},
	{
		name: 'check-in: no body',
		contract: 'checkIn',
		body: undefined,
		status: 400,
		why: 'the contract leaves requestBody optional, but both its fields are required',
	},
	{
		name: 'check-in: JSON sent as text/plain',
		contract: 'checkIn',
		headers: { 'Content-Type': 'text/plain' },
		status: 400,
		why: 'the contract only defines application/json; openapi-backend parses the body whatever the Content-Type',
	},
	{
		name: 'check-in: empty Merchant-Serial-Number',
		contract: 'checkIn',
		headers: { 'Merchant-Serial-Number': '' },
		status: 400,
		why: 'the check-in contract types the MSN as any string; an MSN is digits, and an empty header is invalid (NOTES §3)',
	},
	{
		name: 'check-in: Merchant-Serial-Number with letters',
		contract: 'checkIn',
		headers: { 'Merchant-Serial-Number': 'shop-12' },
		status: 400,
		why: 'the check-in contract types the MSN as any string; the access-token contract says digits',
	},
	{
		name: 'check-in: a bearer token this simulator did not issue',
		contract: 'checkIn',
		headers: { Authorization: 'Bearer eyJhbGciOiJub25lIn0.e30.' },
		status: 401,
		why: 'a schema can only say the header is a string; whether the token is good is for the API to judge',
	},
	{
		name: 'token: wrong client_secret',
		contract: 'accessToken',
		headers: { client_secret: 'not-the-secret' },
		status: 401,
		why: 'a schema cannot know the secret',
	},
	{
		name: 'qr: empty qrCode',
		contract: 'qr',
		body: JSON.stringify({ qrCode: '' }),
		status: 400,
		why: 'the contract has no minLength, but an empty code is not "the complete data contained in the QR code"',
	},
	{
		name: 'qr: a code that is not a personal QR code',
		contract: 'qr',
		body: JSON.stringify({ qrCode: 'https://example.com/not-a-vipps-code' }),
		status: 400,
		why: 'only the API knows which codes exist; the simulator knows https://qr.vipps.no/p/… and registered codes',
	},
];

const MORE_LENIENT: Departure[] = [
	{
		name: 'token: 7-digit Merchant-Serial-Number',
		contract: 'accessToken',
		headers: { 'Merchant-Serial-Number': '1234567' },
		status: 200,
		why: 'the access-token contract says 4–6 digits, but sales units created after the MobilePay merger can carry 7 (NOTES §3)',
	},
];

describe('the simulator agrees with the official contracts', () => {
	test.each(AGREEMENT)('$name → $status', async (row) => {
		const official = await officialVerdict(row);
		const { answer, recorded } = await send(row);

		expect({ contractValid: official.valid, status: answer.status }).toEqual({ contractValid: row.status === 200, status: row.status });
		// The synchronous helper other tests use reaches the same verdict from the redacted log entry.
		expect(validateAgainstContract(recorded).valid).toBe(official.valid);
	});
});

describe('where the simulator is deliberately stricter than the contract', () => {
	test.each(STRICTER)('$name → $status, because $why', async (row) => {
		const official = await officialVerdict(row);
		const { answer, recorded } = await send(row);

		expect(official).toEqual({ valid: true, errors: null });
		expect(answer.status).toBe(row.status);
		expect(validateAgainstContract(recorded).valid).toBe(true);
	});
});

describe('where the simulator is deliberately more lenient than the contract', () => {
	test.each(MORE_LENIENT)('$name → $status, because $why', async (row) => {
		const official = await officialVerdict(row);
		const { answer, recorded } = await send(row);

		expect(official.valid).toBe(false);
		expect(answer.status).toBe(row.status);
		expect(validateAgainstContract(recorded).valid).toBe(false);
	});
});

describe("the simulator's answers match the contracts' response schemas", () => {
	test('a check-in 200 in the default style is the contract’s LoyaltyCheckInResponse (a JSON string)', async () => {
		const backend = await contractBackend('checkIn');
		const { answer } = await send({ name: '', contract: 'checkIn', status: 200 });

		expect(backend.validateResponse(JSON.parse(answer.text), 'initiateLoyaltyCheckIn', 200).valid).toBe(true);
	});

	test('the {"id": …} style is a deliberate departure: the contract types the 200 body as a string', async () => {
		const backend = await contractBackend('checkIn');
		simulator.setCheckInResponseStyle('object');
		try {
			const { answer } = await send({ name: '', contract: 'checkIn', status: 200 });
			expect(backend.validateResponse(JSON.parse(answer.text), 'initiateLoyaltyCheckIn', 200).valid).toBe(false);
		} finally {
			simulator.setCheckInResponseStyle('jsonString');
		}
	});

	test('a check-in 400 is the contract’s ErrorResponse', async () => {
		const backend = await contractBackend('checkIn');
		const { answer } = await send({ name: '', contract: 'checkIn', body: phone(4791234567), status: 400 });

		const result = backend.validateResponse(JSON.parse(answer.text), 'initiateLoyaltyCheckIn', 400);
		expect(result.errors ?? []).toEqual([]);
	});

	test('QR exchange 200 and 400 are QrExchangeResponse and QrExchangeErrorResponse', async () => {
		const backend = await contractBackend('qr');
		const ok = await send({ name: '', contract: 'qr', status: 200 });
		const bad = await send({ name: '', contract: 'qr', body: JSON.stringify({ qrCode: 'unknown' }), status: 400 });

		expect(backend.validateResponse(JSON.parse(ok.answer.text), 'exchangeQr', 200).errors ?? []).toEqual([]);
		expect(backend.validateResponse(JSON.parse(bad.answer.text), 'exchangeQr', 400).errors ?? []).toEqual([]);
	});

	test('a token 200 has every property AuthorizationTokenResponse requires, each a string', async () => {
		// openapi-backend only validates responses declared as exactly application/json; this one is
		// declared as application/json;charset=UTF-8, so the schema is checked here by hand.
		const document = contractDocument('accessToken') as unknown as TokenContract;
		const { required, properties } = document.components.schemas.AuthorizationTokenResponse;
		const { answer } = await send({ name: '', contract: 'accessToken', status: 200 });
		const body = JSON.parse(answer.text) as Record<string, unknown>;

		expect(Object.keys(body).sort()).toEqual([...required].sort());
		for (const name of required) {
			expect(properties[name].type).toBe('string');
			expect(typeof body[name]).toBe('string');
		}
	});
});

describe('validateAgainstContract', () => {
	test('maps each contract’s server base path: check-in lives under /point-of-sale, QR under /qr', () => {
		expect(contractApiRoot(contractDocument('checkIn'))).toBe('/point-of-sale');
		expect(contractApiRoot(contractDocument('qr'))).toBe('/qr');
		expect(contractApiRoot(contractDocument('accessToken'))).toBe('/');
		expect(contractDocument('checkIn').paths).toHaveProperty(['/v1/loyalty-check-in']);
	});

	test('names what is wrong', () => {
		const verdict = validateContractRequest({
			method: 'POST',
			path: PATHS.checkIn,
			headers: { 'ocp-apim-subscription-key': 'k', 'content-type': 'application/json' },
			body: phone(4791234567, 'yes'),
		});

		expect(verdict.valid).toBe(false);
		expect(verdict.errors).toEqual(
			expect.arrayContaining([
				"/header must have required property 'authorization'",
				'/requestBody/phoneNumber must be string',
				'/requestBody/isMember must be boolean',
			]),
		);
	});

	test('rejects paths and methods the contracts do not have, including other spellings', () => {
		const headers = { 'ocp-apim-subscription-key': 'k' };

		for (const request of [
			{ method: 'GET', path: PATHS.accessToken, headers },
			{ method: 'POST', path: '/accessToken/get', headers },
			{ method: 'POST', path: `${PATHS.checkIn}/`, headers },
			{ method: 'POST', path: '/v1/loyalty-check-in', headers },
		]) {
			expect(validateContractRequest(request)).toEqual({
				valid: false,
				errors: [`No operation in the vendored contracts matches ${request.method} ${request.path}`],
			});
		}
	});

	test('judges a logged request with its secrets redacted the same as the request sent', async () => {
		const { recorded } = await send({ name: '', contract: 'checkIn', status: 200 });

		expect(recorded.headers.authorization).toBe('[redacted]');
		expect(validateAgainstContract(recorded)).toEqual({ valid: true, errors: [] });
	});
});
