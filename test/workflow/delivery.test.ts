/**
 * Delivery through n8n's engine: each check-in reaches Vipps at most twice, and the output says
 * how many attempts it took and whether the customer may have seen it twice; a redirect is never
 * followed, so neither the keys nor the token leave for another origin. Every fault is injected
 * per phone number and attempt (the simulator's fault rules), never by racing a latency against
 * the timeout: the only timeouts are requests the simulator never answers.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { OutboundHttp } from '@n8n/backend-network';
import { Container } from '@n8n/di';
import type { IHttpRequestOptions } from 'n8n-workflow';

import { pressCredentialTest } from '../../harness/credentialTest';
import { runWorkflow, type WorkflowRun } from '../../harness/runWorkflow';
import { PATHS, type Fault, type VippsSimulator } from '../../simulator/VippsSimulator';
import { VIPPS_NODE, checkInWorkflow, everythingVisible, secretsOf, simulatorCredential, startSimulator } from './fixtures';

/** Long enough that an answering simulator answers in time even on a busy machine (in-process, under load): only `hang` times out. */
const TIMEOUT_MS = 5_000;
const TEST_TIMEOUT_MS = 60_000;

let simulator: VippsSimulator;

afterEach(async () => {
	jest.restoreAllMocks();
	await simulator?.close();
});

const customer = (phone: string) => ({ phone, member: true });
const msisdn = (phone: string) => `47${phone}`;

/** Runs the check-in workflow for `phones` against the simulator, every failure an error item. */
async function checkIn(phones: string[], options: Record<string, unknown> = {}): Promise<WorkflowRun> {
	return await runWorkflow(checkInWorkflow({ items: phones.map(customer), continueOnFail: true, options: { timeout: TIMEOUT_MS, ...options } }), {
		credentials: [simulatorCredential(simulator)],
	});
}

/** The check-ins for one phone number that reached the simulator, as fault kind or status. */
const arrivalsFor = (phone: string) =>
	simulator
		.checkInRequests()
		.filter((request) => (request.body as { phoneNumber?: string } | undefined)?.phoneNumber === msisdn(phone))
		.map((request) => request.fault ?? request.status);

function expectNothingSecretShown(run: WorkflowRun): void {
	const visible = everythingVisible(run);
	for (const secret of [...secretsOf(simulator), ...simulator.issuedTokens()]) expect(visible).not.toContain(secret);
}

describe('each check-in at most twice', () => {
	it('a check-in that timed out is sent once more: delivered, attempts 2, possible duplicate', async () => {
		simulator = await startSimulator();
		simulator.injectFault({ fault: { kind: 'hang' }, phoneNumber: msisdn('91111111') });
		const run = await checkIn(['91111111', '92222222']);

		expect(run.error).toBeUndefined();
		expect(run.itemsOf(VIPPS_NODE).map((item) => item.json)).toEqual([
			expect.objectContaining({ checkInId: expect.any(String), phoneNumber: msisdn('91111111'), attempts: 2, possibleDuplicate: true }),
			expect.objectContaining({ checkInId: expect.any(String), phoneNumber: msisdn('92222222'), attempts: 1, possibleDuplicate: false }),
		]);
		expect(arrivalsFor('91111111')).toEqual(['hang', 200]);
		expect(arrivalsFor('92222222')).toEqual([200]);
	}, TEST_TIMEOUT_MS);

	it('a check-in that never gets an answer reaches Vipps twice, no more; its error item says so and that the customer may have seen it', async () => {
		simulator = await startSimulator();
		simulator.injectFault({ fault: { kind: 'hang' }, phoneNumber: msisdn('91111111'), times: Infinity });
		const run = await checkIn(['91111111', '92222222']);

		const [failed, delivered] = run.itemsOf(VIPPS_NODE);
		expect(failed.json.error).toBe(`Vipps did not answer the check-in within ${TIMEOUT_MS} ms, after 2 attempts`);
		expect((failed.json.details as { description: string }).description).toContain('the customer may have seen the check-in');
		expect(delivered.json).toMatchObject({ attempts: 1, possibleDuplicate: false });
		expect(arrivalsFor('91111111')).toEqual(['hang', 'hang']);
		expectNothingSecretShown(run);
	}, TEST_TIMEOUT_MS);

	it.each<[string, Fault]>([
		['502 on attempt 1', { kind: 'status', status: 502 }],
		['a reset after Vipps read the request', { kind: 'reset' }],
	])('%s: delivered once more, and the output says it may be a duplicate', async (_, fault) => {
		simulator = await startSimulator();
		simulator.injectFault({ fault, phoneNumber: msisdn('91111111') });
		const run = await checkIn(['91111111']);

		expect(run.itemsOf(VIPPS_NODE)[0].json).toMatchObject({ checkInId: expect.any(String), attempts: 2, possibleDuplicate: true });
		expect(arrivalsFor('91111111')).toEqual([fault.kind, 200]);
	}, TEST_TIMEOUT_MS);

	it('two 502s in a row: the second is the last, and the error item says the customer may have seen it', async () => {
		simulator = await startSimulator();
		simulator.injectFault({ fault: { kind: 'status', status: 502 }, phoneNumber: msisdn('91111111'), times: 2 });
		const run = await checkIn(['91111111']);

		const { json } = run.itemsOf(VIPPS_NODE)[0];
		expect(json.error).toBe('Vipps was unavailable for the check-in (HTTP 502), after 2 attempts');
		expect((json.details as { description: string }).description).toContain('the customer may have seen the check-in');
		expect(arrivalsFor('91111111')).toEqual(['status', 'status']);
	}, TEST_TIMEOUT_MS);

	it('a refused connection never reached Vipps: sent again, delivered, not a possible duplicate', async () => {
		simulator = await startSimulator();
		// n8n's HTTP helper sends the first check-in to a closed port (port 1: nothing listens there).
		refuseFirstRequestTo(PATHS.checkIn);
		const run = await checkIn(['91111111']);

		expect(run.itemsOf(VIPPS_NODE)[0].json).toMatchObject({ checkInId: expect.any(String), attempts: 2, possibleDuplicate: false });
		expect(arrivalsFor('91111111')).toEqual([200]);
	}, TEST_TIMEOUT_MS);
});

describe('no redirects', () => {
	let elsewhere: { server: Server; origin: string; received: Array<{ url?: string; headers: Record<string, unknown>; body: string }> };

	beforeEach(async () => {
		// Another origin on loopback that records everything it receives.
		const received: typeof elsewhere.received = [];
		const server = createServer((req, res) => {
			let body = '';
			req.on('data', (chunk: Buffer) => (body += chunk.toString()));
			req.on('end', () => {
				received.push({ url: req.url, headers: req.headers, body });
				res.end('{"access_token":"stolen","expires_in":"3600"}');
			});
		});
		await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
		elsewhere = { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
	});

	afterEach(async () => {
		elsewhere.server.closeAllConnections();
		await new Promise((resolve) => elsewhere.server.close(resolve));
	});

	const redirect = (status: 302 | 307): Fault => ({ kind: 'redirect', status, location: `${elsewhere.origin}/collect` });

	it('a check-in answered 307: an error item naming the status and the host, nothing sent there, nothing sent again', async () => {
		simulator = await startSimulator();
		simulator.injectFault({ fault: redirect(307), phoneNumber: msisdn('91111111') });
		const run = await checkIn(['91111111', '92222222']);

		const [redirected, delivered] = run.itemsOf(VIPPS_NODE);
		const host = new URL(elsewhere.origin).host;
		expect(redirected.json).toEqual({
			error: `${new URL(simulator.baseUrl).host} answered the check-in with a redirect (HTTP 307) to ${host}`,
			details: {
				description: `Vipps APIs never redirect: check the credential's Custom Base URL. Nothing was sent to ${host}.`,
				httpCode: '307',
				phoneNumber: msisdn('91111111'),
				isMember: true,
				attempts: 1,
				possibleDuplicate: false,
			},
		});
		expect(delivered.json).toMatchObject({ checkInId: expect.any(String), attempts: 1 });
		expect(arrivalsFor('91111111')).toEqual(['redirect']);
		expect(elsewhere.received).toEqual([]);
		expectNothingSecretShown(run);
	}, TEST_TIMEOUT_MS);

	it('the token request answered 302: every item an error naming the status and the host, the client secret never sent there', async () => {
		simulator = await startSimulator();
		simulator.injectFault({ fault: redirect(302), path: PATHS.accessToken, times: Infinity });
		const run = await checkIn(['91111111', '92222222']);

		const host = new URL(elsewhere.origin).host;
		for (const item of run.itemsOf(VIPPS_NODE)) {
			expect(item.json.error).toBe(`${new URL(simulator.baseUrl).host} answered the access token request with a redirect (HTTP 302) to ${host}`);
		}
		expect(simulator.tokenRequests().map((request) => request.status)).toEqual([302]);
		expect(simulator.checkInRequests()).toEqual([]);
		expect(elsewhere.received).toEqual([]);
		expectNothingSecretShown(run);
	}, TEST_TIMEOUT_MS);

	it("the credential's Test button does not follow a redirect either, and says what it means", async () => {
		simulator = await startSimulator();
		simulator.injectFault({ fault: redirect(307), path: PATHS.accessToken });
		const result = await pressCredentialTest('vippsMobilePayApi', simulatorCredential(simulator).data);

		expect(result).toEqual({ status: 'Error', message: expect.stringContaining('Vipps APIs never redirect') });
		expect(elsewhere.received).toEqual([]);
	}, TEST_TIMEOUT_MS);
});

describe('Custom Base URL', () => {
	it('with a path: refused before anything is sent, naming the field', async () => {
		simulator = await startSimulator();
		const run = await runWorkflow(checkInWorkflow({ items: [customer('91111111')], continueOnFail: true }), {
			credentials: [simulatorCredential(simulator, { customBaseUrl: `${simulator.baseUrl}/point-of-sale` })],
		});

		expect(everythingVisible(run)).toContain('Custom Base URL must be scheme, host and port only');
		expect(simulator.requests).toEqual([]);
	}, TEST_TIMEOUT_MS);
});

describe('access tokens', () => {
	it('one token for a partner cycling through more than 100 Merchant Serial Numbers, twice over', async () => {
		simulator = await startSimulator();
		const msns = Array.from({ length: 150 }, (_, i) => String(100_000 + i));
		const items = [...msns, ...msns].map((msn, i) => ({ ...customer(`9${String(i).padStart(7, '0')}`), msn }));
		const run = await runWorkflow(
			checkInWorkflow({ items, options: { concurrency: 16, merchantSerialNumber: '={{ $json.msn }}' } }),
			{ credentials: [simulatorCredential(simulator)] },
		);

		expect(run.error).toBeUndefined();
		expect(run.itemsOf(VIPPS_NODE).map((item) => item.json.merchantSerialNumber)).toEqual(items.map((item) => item.msn));
		expect(simulator.checkInRequests().map((request) => request.headers['merchant-serial-number'])).toEqual(expect.arrayContaining(msns));
		expect(simulator.tokenRequests()).toHaveLength(1);
	}, TEST_TIMEOUT_MS);
});

/**
 * Makes n8n's own HTTP helper send the first request for `path` to a port where nothing listens,
 * so that attempt gets a real refused connection from the real HTTP stack; later ones go through.
 */
function refuseFirstRequestTo(path: string): void {
	const outbound = Container.get(OutboundHttp);
	const requests = outbound.requests.bind(outbound);
	let refused = false;
	jest.spyOn(outbound, 'requests').mockImplementation((options) => {
		const client = requests(options);
		const request = async (requestOptions: IHttpRequestOptions) => {
			if (refused || !requestOptions.url.endsWith(path)) return await client.request(requestOptions);
			refused = true;
			const url = new URL(requestOptions.url);
			url.port = '1';
			return await client.request({ ...requestOptions, url: url.toString() });
		};
		return { ...client, request } as typeof client;
	});
}
