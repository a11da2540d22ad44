/**
 * Behind Vipps's gateway (Azure API Management), through n8n's engine with default options:
 * every item is delivered exactly once, none fails, and the batch keeps near the gateway's pace.
 * The limit is low (20 requests per second, against Concurrency 128) so that the gateway, not
 * the CPU of a busy test machine, sets the pace, and the bound on time is generous: three times
 * the ideal. A pacer that learned its rate from completions crawled behind a gateway whose 429s
 * come at once (about one request a second).
 */
import { runWorkflow } from '../../harness/runWorkflow';
import type { GatewayOptions, VippsSimulator } from '../../simulator/VippsSimulator';
import { VIPPS_NODE, checkInWorkflow, simulatorCredential, startSimulator } from './fixtures';

const LIMIT = 20;
const ITEMS = 120;
const IDEAL_MS = (ITEMS / LIMIT) * 1000;

let simulator: VippsSimulator;

afterEach(async () => {
	await simulator.close();
});

const gateways: Array<[string, GatewayOptions]> = [
	['429 at once, fixed one-second windows', { requestsPerSecond: LIMIT, window: 'fixed', throttle: 'instant' }],
	['429 at once, a sliding one-second window', { requestsPerSecond: LIMIT, window: 'sliding', throttle: 'instant' }],
	['429 after the latency, fixed one-second windows', { requestsPerSecond: LIMIT, window: 'fixed', throttle: 'after-latency' }],
];

describe(`behind a gateway of ${LIMIT} requests per second, ${ITEMS} items with default options`, () => {
	it.each(gateways)(
		'%s: every item delivered exactly once, none failed, within 3× the ideal time',
		async (_, gateway) => {
			simulator = await startSimulator({ gateway, latencyMs: 50 });
			const items = Array.from({ length: ITEMS }, (_, i) => ({ phone: `9${String(i).padStart(7, '0')}`, member: true }));

			const run = await runWorkflow(checkInWorkflow({ items }), { credentials: [simulatorCredential(simulator)] });

			expect(run.error).toBeUndefined();
			const outputs = run.itemsOf(VIPPS_NODE);
			expect(outputs.map((output) => output.pairedItem)).toEqual(items.map((_, item) => ({ item })));
			expect(outputs.filter((output) => typeof output.json.checkInId !== 'string')).toEqual([]);
			const accepted = simulator.checkInRequests().filter((request) => request.status === 200);
			const phones = accepted.map((request) => (request.body as { phoneNumber: string }).phoneNumber);
			expect(phones.sort()).toEqual(items.map((item) => `47${item.phone}`).sort());

			const checkIns = simulator.checkInRequests();
			const tookMs = checkIns.at(-1)!.receivedAt - checkIns[0].receivedAt;
			expect(tookMs).toBeLessThan(3 * IDEAL_MS);
		},
		60_000,
	);
});
