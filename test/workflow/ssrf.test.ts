/**
 * n8n's SSRF protection applies to the node: it sends through n8n's own HTTP helper, so with
 * N8N_SSRF_PROTECTION_ENABLED=true a Custom Base URL on a blocked address (here the simulator on
 * 127.0.0.1) is refused before anything is sent, and allowed once the administrator allows it.
 * n8n reads these settings when its services start, so each case loads n8n afresh.
 */
import type { VippsSimulator } from '../../simulator/VippsSimulator';

type Fixtures = typeof import('./fixtures');
type Harness = typeof import('../../harness/runWorkflow');

let simulator: VippsSimulator;

afterEach(async () => {
	await simulator?.close();
	delete process.env.N8N_SSRF_PROTECTION_ENABLED;
	delete process.env.N8N_SSRF_ALLOWED_IP_RANGES;
});

/** n8n's engine, loaded with the given environment, running three check-ins against a new simulator. */
async function runWith(env: Record<string, string>) {
	Object.assign(process.env, env);
	jest.resetModules();
	const fixtures = require('./fixtures') as Fixtures;
	const { runWorkflow } = require('../../harness/runWorkflow') as Harness;
	simulator = await fixtures.startSimulator();
	const run = await runWorkflow(
		fixtures.checkInWorkflow({ items: [{ phone: '91234567', member: true }, { phone: '41234567', member: true }], continueOnFail: true }),
		{ credentials: [fixtures.simulatorCredential(simulator)] },
	);
	return run.itemsOf(fixtures.VIPPS_NODE);
}

describe("n8n's SSRF protection", () => {
	it('refuses a Custom Base URL on a blocked address, says so, and sends nothing', async () => {
		const outputs = await runWith({ N8N_SSRF_PROTECTION_ENABLED: 'true' });
		expect(outputs).toHaveLength(2);
		for (const output of outputs) {
			expect(output.json.error).toMatch(/^n8n's SSRF protection blocked the request to 127\.0\.0\.1:\d+$/);
			const { description } = output.json.details as { description: string };
			expect(description).toContain('127.0.0.1');
			expect(description).toContain('N8N_SSRF_ALLOWED_IP_RANGES');
		}
		// Not even the token request reached the simulator, and it was not retried.
		expect(simulator.requests).toHaveLength(0);
	});

	it('sends once the administrator allows the address', async () => {
		const outputs = await runWith({ N8N_SSRF_PROTECTION_ENABLED: 'true', N8N_SSRF_ALLOWED_IP_RANGES: '127.0.0.1/32' });
		expect(outputs.map((output) => output.json.error)).toEqual([undefined, undefined]);
		expect(simulator.checkInRequests()).toHaveLength(2);
	});
});
