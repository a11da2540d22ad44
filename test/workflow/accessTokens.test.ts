/**
 * Vipps refusing every check-in with 401 although the token is fresh (the keys may fetch tokens
 * but not use the check-in API): the node must not keep fetching tokens, one per item or per
 * wave of concurrent items. The same case runs inside real n8n in test/e2e/accessTokens.test.ts.
 */
import { runWorkflow } from '../../harness/runWorkflow';
import { PATHS, type Fault, type VippsSimulator } from '../../simulator/VippsSimulator';
import { VIPPS_NODE, checkInWorkflow, everythingVisible, simulatorCredential, startSimulator } from './fixtures';

let simulator: VippsSimulator;

beforeEach(async () => {
	simulator = await startSimulator();
});

afterEach(async () => {
	await simulator.close();
});

it('every check-in answered 401 even with a fresh token: at most two token requests for 50 items, each item an error item saying so', async () => {
	simulator.injectFault({ fault: { kind: 'expiredToken' }, path: PATHS.checkIn, times: Infinity });
	const items = Array.from({ length: 50 }, (_, i) => ({ phone: `9${String(i).padStart(7, '0')}`, member: true }));
	const run = await runWorkflow(checkInWorkflow({ items, continueOnFail: true }), { credentials: [simulatorCredential(simulator)] });

	expect(run.error).toBeUndefined();
	const output = run.itemsOf(VIPPS_NODE);
	expect(output.map((item) => item.pairedItem)).toEqual(items.map((_, item) => ({ item })));
	for (const item of output) {
		expect(item.json).not.toHaveProperty('checkInId');
		// A second attempt only for items whose first went out with the token the renewal replaced.
		expect(item.json.error).toMatch(/^Vipps refused the check-in \(HTTP 401\), even with a fresh access token(, after 2 attempts)?$/);
		expect(item.json.details).toMatchObject({ httpCode: '401' });
	}
	expect(simulator.tokenRequests().length).toBeLessThanOrEqual(2);
	const visible = everythingVisible(run);
	for (const token of simulator.issuedTokens()) expect(visible).not.toContain(token);
});

describe('the token request notifies nobody: sent again after a transient refusal', () => {
	it.each<[string, Fault, number[]]>([
		['a 503', { kind: 'status', status: 503 }, [503, 200]],
		['a 500', { kind: 'status', status: 500 }, [500, 200]],
		['a 429 (after its Retry-After)', { kind: 'status', status: 429, retryAfterSeconds: 0 }, [429, 200]],
	])('%s then 200 gives a token, and the check-in goes out once', async (_, fault, statuses) => {
		simulator.injectFault({ fault, path: PATHS.accessToken });
		const run = await runWorkflow(checkInWorkflow({ items: [{ phone: '91234567', member: true }] }), { credentials: [simulatorCredential(simulator)] });
		expect(run.error).toBeUndefined();
		expect(run.itemsOf(VIPPS_NODE)[0].json).toMatchObject({ checkInId: expect.any(String), attempts: 1, possibleDuplicate: false });
		expect(simulator.tokenRequests().map((request) => request.status)).toEqual(statuses);
		expect(simulator.checkInRequests().map((request) => request.status)).toEqual([200]);
	});

	it('a token request refused every time fails each item with words about the token request, not Concurrency, and no check-in is sent', async () => {
		simulator.injectFault({ fault: { kind: 'status', status: 429, retryAfterSeconds: 3600 }, path: PATHS.accessToken, times: Infinity });
		const run = await runWorkflow(checkInWorkflow({ items: [{ phone: '91234567', member: true }], continueOnFail: true }), { credentials: [simulatorCredential(simulator)] });
		const { json } = run.itemsOf(VIPPS_NODE)[0];
		expect(json.error).toMatch(/^Vipps's gateway takes requests again at \S+Z: it refused the access token request until then \(429 Too Many Requests\)$/);
		expect(JSON.stringify(json)).not.toMatch(/Concurrency/);
		expect(simulator.tokenRequests()).toHaveLength(1);
		expect(simulator.checkInRequests()).toHaveLength(0);
	});
});
