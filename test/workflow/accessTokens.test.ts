/**
 * Vipps refusing every check-in with 401 although the token is fresh (the keys may fetch tokens
 * but not use the check-in API): the node must not keep fetching tokens, one per item or per
 * wave of concurrent items. The same case runs inside real n8n in test/e2e/accessTokens.test.ts.
 */
import { runWorkflow } from '../../harness/runWorkflow';
import { PATHS, type VippsSimulator } from '../../simulator/VippsSimulator';
import { VIPPS_NODE, checkInWorkflow, everythingVisible, simulatorCredential, startSimulator } from './fixtures';

let simulator: VippsSimulator;

beforeEach(async () => {
	simulator = await startSimulator();
	simulator.injectFault({ fault: { kind: 'expiredToken' }, path: PATHS.checkIn, times: Infinity });
});

afterEach(async () => {
	await simulator.close();
});

it('every check-in answered 401 even with a fresh token: at most two token requests for 50 items, each item an error item saying so', async () => {
	const items = Array.from({ length: 50 }, (_, i) => ({ phone: `9${String(i).padStart(7, '0')}`, member: true }));
	const run = await runWorkflow(checkInWorkflow({ items, continueOnFail: true }), { credentials: [simulatorCredential(simulator)] });

	expect(run.error).toBeUndefined();
	const output = run.itemsOf(VIPPS_NODE);
	expect(output.map((item) => item.pairedItem)).toEqual(items.map((_, item) => ({ item })));
	for (const item of output) {
		expect(item.json).not.toHaveProperty('checkInId');
		// The message or its details name the refusal.
		expect(item.json.error).toEqual(expect.any(String));
		expect(JSON.stringify(item.json)).toMatch(/401/);
	}
	expect(simulator.tokenRequests().length).toBeLessThanOrEqual(2);
	const visible = everythingVisible(run);
	for (const token of simulator.issuedTokens()) expect(visible).not.toContain(token);
});
