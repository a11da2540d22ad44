/**
 * Behind Vipps's gateway (Azure API Management), through n8n's engine with default options.
 * Counted in requests, never in wall-clock time: a batch that learns nothing from 429s keeps
 * sending its refused items back at once (about 300 refusals for 120 items at 20 a second), and an
 * execution that does not share what an earlier one learned starts unpaced (100 refusals for its
 * first burst). The pacer is one per credential target per process, so each test has its own
 * simulator (its own base URL).
 */
import { runWorkflow, startWorkflow } from '../../harness/runWorkflow';
import { PATHS, type GatewayOptions, type VippsSimulator } from '../../simulator/VippsSimulator';
import { VIPPS_NODE, checkInWorkflow, simulatorCredential, startSimulator } from './fixtures';

const LIMIT = 20;
const ITEMS = 120;

let simulator: VippsSimulator;

afterEach(async () => {
	await simulator.close();
});

const items = (count: number, prefix = '9') => Array.from({ length: count }, (_, i) => ({ phone: `${prefix}${String(i).padStart(8 - prefix.length, '0')}`, member: true }));
const refusals = (sim: VippsSimulator, from = 0) => sim.checkInRequests().slice(from).filter((request) => request.status === 429).length;

async function expectAllDeliveredOnce(run: Awaited<ReturnType<typeof runWorkflow>>, sent: Array<{ phone: string }>, sim: VippsSimulator) {
	expect(run.error).toBeUndefined();
	const outputs = run.itemsOf(VIPPS_NODE);
	expect(outputs.map((output) => output.pairedItem)).toEqual(sent.map((_, item) => ({ item })));
	expect(outputs.filter((output) => typeof output.json.checkInId !== 'string')).toEqual([]);
	const accepted = sim.checkInRequests().filter((request) => request.status === 200);
	const phones = new Set(accepted.map((request) => (request.body as { phoneNumber: string }).phoneNumber));
	for (const { phone } of sent) expect(phones).toContain(`47${phone}`);
}

const gateways: Array<[string, GatewayOptions]> = [
	['429 at once, fixed one-second windows', { requestsPerSecond: LIMIT, window: 'fixed', throttle: 'instant' }],
	['429 at once, a sliding one-second window', { requestsPerSecond: LIMIT, window: 'sliding', throttle: 'instant' }],
	['429 after the latency, fixed one-second windows', { requestsPerSecond: LIMIT, window: 'fixed', throttle: 'after-latency' }],
];

describe(`behind a gateway of ${LIMIT} requests per second, ${ITEMS} items with default options`, () => {
	it.each(gateways)(
		'%s: every item delivered exactly once; refused less than once per item (the first burst, then paced)',
		async (_, gateway) => {
			simulator = await startSimulator({ gateway, latencyMs: 50 });
			const sent = items(ITEMS);
			const run = await runWorkflow(checkInWorkflow({ items: sent }), { credentials: [simulatorCredential(simulator)] });
			await expectAllDeliveredOnce(run, sent, simulator);
			expect(simulator.checkInRequests().filter((request) => request.status === 200)).toHaveLength(ITEMS);
			expect(refusals(simulator)).toBeLessThan(ITEMS);
		},
		60_000,
	);
});

describe('throttling learned across executions (one pacer per credential target per process)', () => {
	const gateway: GatewayOptions = { requestsPerSecond: LIMIT, window: 'fixed', throttle: 'instant' };

	it('a second batch behind the same gateway starts at the rate the first learned: few refusals instead of a burst', async () => {
		simulator = await startSimulator({ gateway, latencyMs: 50 });
		const credentials = [simulatorCredential(simulator)];
		await expectAllDeliveredOnce(await runWorkflow(checkInWorkflow({ items: items(ITEMS) }), { credentials }), items(ITEMS), simulator);
		expect(refusals(simulator)).toBeGreaterThanOrEqual(ITEMS - 2 * LIMIT); // the first, unpaced burst

		const before = simulator.checkInRequests().length;
		const second = items(ITEMS, '41');
		await expectAllDeliveredOnce(await runWorkflow(checkInWorkflow({ items: second }), { credentials }), second, simulator);
		expect(refusals(simulator, before)).toBeLessThanOrEqual(ITEMS / 10);
	}, 60_000);

	it('two concurrent executions share one learned rate: neither starts with an unpaced burst', async () => {
		simulator = await startSimulator({ gateway, latencyMs: 50 });
		const credentials = [simulatorCredential(simulator)];
		// One contact teaches the pacer nothing; a first batch does.
		await runWorkflow(checkInWorkflow({ items: items(ITEMS) }), { credentials });
		const before = simulator.checkInRequests().length;

		const [a, b] = [items(ITEMS / 2, '42'), items(ITEMS / 2, '43')];
		const runs = [startWorkflow(checkInWorkflow({ items: a }), { credentials }), startWorkflow(checkInWorkflow({ items: b }), { credentials })];
		const [runA, runB] = await Promise.all(runs.map(async (running) => await running.result));
		await expectAllDeliveredOnce(runA, a, simulator);
		await expectAllDeliveredOnce(runB, b, simulator);
		// Unshared, each would send its 60 items at once: 100 refusals between them.
		expect(refusals(simulator, before)).toBeLessThanOrEqual(ITEMS / 10);
	}, 60_000);
});

describe('a closed gateway (every check-in answered 429 with Retry-After: 3600)', () => {
	it('fails 20 items at once with at most one request each, naming when the gateway takes requests again; the next execution sends nothing', async () => {
		simulator = await startSimulator();
		simulator.injectFault({ fault: { kind: 'status', status: 429, retryAfterSeconds: 3600 }, path: PATHS.checkIn, times: Infinity });
		const credentials = [simulatorCredential(simulator)];
		const sent = items(20);
		const startedAt = Date.now();
		const run = await runWorkflow(checkInWorkflow({ items: sent, continueOnFail: true }), { credentials });
		const reopensBy = Date.now() + 3_600_000;

		expect(run.error).toBeUndefined();
		const outputs = run.itemsOf(VIPPS_NODE);
		expect(outputs).toHaveLength(20);
		for (const { json } of outputs) {
			const retryAt = /^Vipps's gateway takes requests again at (\S+Z): it refused the check-in until then \(429 Too Many Requests\)/.exec(String(json.error));
			expect(retryAt).not.toBeNull();
			const reopens = Date.parse(retryAt![1]);
			expect(reopens).toBeGreaterThanOrEqual(startedAt + 3_599_000);
			expect(reopens).toBeLessThanOrEqual(reopensBy);
			// The same time as a field, for a Wait node.
			expect(Date.parse(String((json.details as { retryAt?: string }).retryAt))).toBe(reopens);
		}
		const perPhone = new Map<string, number>();
		for (const request of simulator.checkInRequests()) {
			const phone = (request.body as { phoneNumber: string }).phoneNumber;
			perPhone.set(phone, (perPhone.get(phone) ?? 0) + 1);
		}
		expect(Math.max(...perPhone.values())).toBe(1);
		expect(simulator.checkInRequests().length).toBeLessThanOrEqual(20);

		// The pacer holds the target until then: the next execution is answered without a request.
		const before = simulator.checkInRequests().length;
		const next = await runWorkflow(checkInWorkflow({ items: items(3, '44'), continueOnFail: true }), { credentials });
		expect(next.itemsOf(VIPPS_NODE).map(({ json }) => String(json.error))).toEqual(Array(3).fill(expect.stringMatching(/^Vipps's gateway takes requests again at /)));
		expect(simulator.checkInRequests()).toHaveLength(before);
	}, 30_000);
});
