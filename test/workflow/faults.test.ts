/**
 * Flaky networks and a throttling gateway, injected by the simulator per request: every input
 * item still yields exactly one output or error item, paired and in order.
 */
import { runWorkflow } from '../../harness/runWorkflow';
import type { Fault, VippsSimulator } from '../../simulator/VippsSimulator';
import { VIPPS_NODE, checkInWorkflow, simulatorCredential, startSimulator } from './fixtures';

const CHECK_IN_PATH = '/point-of-sale/v1/loyalty-check-in';

let simulator: VippsSimulator;

afterEach(async () => {
	await simulator.close();
});

function phoneItems(count: number) {
	return Array.from({ length: count }, (_, i) => ({ phone: `9${String(i).padStart(7, '0')}`, member: true }));
}

function deliveredPhones(sim: VippsSimulator): string[] {
	return sim
		.checkInRequests()
		.filter((r) => r.status === 200)
		.map((r) => (r.body as { phoneNumber: string }).phoneNumber);
}

describe('retried faults', () => {
	const transient: Array<[string, Fault]> = [
		['503 Service Unavailable', { kind: 'status', status: 503 }],
		['502 Bad Gateway', { kind: 'status', status: 502 }],
		['504 Gateway Timeout', { kind: 'status', status: 504 }],
		['a connection reset', { kind: 'reset' }],
		['a response that never comes (timeout)', { kind: 'hang' }],
		['429 without Retry-After', { kind: 'status', status: 429 }],
	];

	it.each(transient)('retries after %s and delivers the check-in', async (_, fault) => {
		simulator = await startSimulator();
		simulator.injectFault({ fault, path: CHECK_IN_PATH, times: 2 });
		const run = await runWorkflow(checkInWorkflow({ items: [{ phone: '91234567', member: true }], options: { timeout: 300 } }), {
			credentials: [simulatorCredential(simulator)],
		});
		expect(run.error).toBeUndefined();
		expect(run.itemsOf(VIPPS_NODE)[0].json).toMatchObject({ checkInId: expect.any(String), phoneNumber: '4791234567' });
		expect(simulator.checkInRequests().map((r) => r.fault ?? r.status)).toEqual([fault.kind, fault.kind, 200]);
	});

	it('also retries the token request', async () => {
		simulator = await startSimulator();
		simulator.injectFault({ fault: { kind: 'status', status: 503 }, path: '/accesstoken/get' });
		const run = await runWorkflow(checkInWorkflow({ items: [{ phone: '91234567', member: true }] }), {
			credentials: [simulatorCredential(simulator)],
		});
		expect(run.error).toBeUndefined();
		expect(simulator.tokenRequests().map((r) => r.status)).toEqual([503, 200]);
	});

	it('does not retry a 400, and lists each parameter Vipps refused', async () => {
		simulator = await startSimulator();
		simulator.injectFault({
			fault: { kind: 'badRequest', invalidParams: [{ name: 'phoneNumber', reason: 'The user is not a Vipps user.' }] },
			path: CHECK_IN_PATH,
		});
		const run = await runWorkflow(checkInWorkflow({ items: [{ phone: '91234567', member: true }], continueOnFail: true }), {
			credentials: [simulatorCredential(simulator)],
		});
		const [item] = run.itemsOf(VIPPS_NODE);
		expect(item.json).toEqual({
			error: 'Vipps rejected the check-in: One or more validation errors occurred.',
			details: { description: 'phoneNumber: The user is not a Vipps user.', httpCode: '400' },
		});
		expect(simulator.checkInRequests()).toHaveLength(1);
	});

	it('gives up after a bounded number of attempts and says so', async () => {
		simulator = await startSimulator();
		simulator.injectFault({ fault: { kind: 'status', status: 503 }, path: CHECK_IN_PATH, times: Infinity });
		const run = await runWorkflow(checkInWorkflow({ items: [{ phone: '91234567', member: true }], continueOnFail: true }), {
			credentials: [simulatorCredential(simulator)],
		});
		expect(run.itemsOf(VIPPS_NODE)[0].json.error).toBe('Vipps was unavailable for the check-in (HTTP 503) after 6 attempts');
		expect(simulator.checkInRequests()).toHaveLength(6);
	}, 20_000);
});

describe('answers that are odd but successful', () => {
	it.each(['jsonString', 'object', 'rawText'] as const)('reads the check-in id when it comes as %s', async (style) => {
		simulator = await startSimulator({ checkInResponseStyle: style });
		const run = await runWorkflow(checkInWorkflow({ items: [{ phone: '91234567', member: true }] }), {
			credentials: [simulatorCredential(simulator)],
		});
		expect(run.itemsOf(VIPPS_NODE)[0].json.checkInId).toMatch(/^[0-9a-f]{8}-[0-9a-f-]{27}$/);
	});

	it('a 200 whose body stalls halfway is a delivered check-in with no id, not sent again', async () => {
		simulator = await startSimulator();
		simulator.injectFault({ fault: { kind: 'partialBody' }, path: CHECK_IN_PATH });
		const run = await runWorkflow(checkInWorkflow({ items: [{ phone: '91234567', member: true }], options: { timeout: 300 } }), {
			credentials: [simulatorCredential(simulator)],
		});
		expect(run.error).toBeUndefined();
		expect(run.itemsOf(VIPPS_NODE)[0].json).toMatchObject({ checkInId: null, phoneNumber: '4791234567' });
		expect(simulator.checkInRequests()).toHaveLength(1);
	});

	it('a 200 with a broken body is a delivered check-in with no id, not a reason to send it again', async () => {
		simulator = await startSimulator();
		simulator.injectFault({ fault: { kind: 'malformedJson' }, path: CHECK_IN_PATH });
		const run = await runWorkflow(checkInWorkflow({ items: [{ phone: '91234567', member: true }] }), {
			credentials: [simulatorCredential(simulator)],
		});
		expect(run.itemsOf(VIPPS_NODE)[0].json).toMatchObject({ checkInId: null, phoneNumber: '4791234567' });
		expect(simulator.checkInRequests()).toHaveLength(1);
	});
});

describe('throttling', () => {
	it('on 429 with Retry-After the whole batch pauses, then every item completes', async () => {
		simulator = await startSimulator();
		simulator.injectFault({ fault: { kind: 'status', status: 429, retryAfterSeconds: 1 }, phoneNumber: '4790000003' });
		const items = phoneItems(12);
		const run = await runWorkflow(checkInWorkflow({ items, options: { concurrency: 2 } }), {
			credentials: [simulatorCredential(simulator)],
		});
		expect(run.error).toBeUndefined();
		expect(run.itemsOf(VIPPS_NODE).map((i) => i.json.phoneNumber)).toEqual(items.map((i) => `47${i.phone}`));
		const checkIns = simulator.checkInRequests();
		const throttled = checkIns.find((r) => r.status === 429)!;
		const startedDuringPause = checkIns.filter((r) => r.receivedAt > throttled.receivedAt + 50 && r.receivedAt < throttled.receivedAt + 950);
		expect(startedDuringPause).toEqual([]);
		expect(new Set(deliveredPhones(simulator)).size).toBe(12);
	});

	it('behind a gateway limit of 40 requests per second, 120 items all arrive once, with one token', async () => {
		simulator = await startSimulator({ gateway: { requestsPerSecond: 40 }, latencyMs: 5 });
		const items = phoneItems(120);
		const run = await runWorkflow(checkInWorkflow({ items }), { credentials: [simulatorCredential(simulator)] });

		expect(run.error).toBeUndefined();
		const outputs = run.itemsOf(VIPPS_NODE);
		expect(outputs.map((o) => o.pairedItem)).toEqual(items.map((_, item) => ({ item })));
		expect(outputs.every((o) => typeof o.json.checkInId === 'string')).toBe(true);
		const delivered = deliveredPhones(simulator);
		expect(delivered).toHaveLength(120);
		expect(new Set(delivered).size).toBe(120);
		expect(simulator.tokenRequests().filter((r) => r.status === 200)).toHaveLength(1);
	}, 20_000);

	it('a rate cap chosen by the user keeps the gateway from ever answering 429', async () => {
		simulator = await startSimulator({ gateway: { requestsPerSecond: 30 } });
		const run = await runWorkflow(checkInWorkflow({ items: phoneItems(40), options: { maxRequestsPerSecond: 25 } }), {
			credentials: [simulatorCredential(simulator)],
		});
		expect(run.error).toBeUndefined();
		expect(simulator.requests.filter((r) => r.status === 429)).toEqual([]);
		expect(deliveredPhones(simulator)).toHaveLength(40);
	}, 20_000);
});

describe('nothing lost, nothing duplicated', () => {
	it('a batch hit by every kind of fault still yields one output per item, in order', async () => {
		simulator = await startSimulator();
		const faults: Fault[] = [
			{ kind: 'reset' },
			{ kind: 'status', status: 503 },
			{ kind: 'hang' },
			{ kind: 'partialBody' },
			{ kind: 'status', status: 429, retryAfterSeconds: 1 },
			{ kind: 'expiredToken' },
			{ kind: 'status', status: 500 },
			{ kind: 'latency', ms: 120 },
		];
		const items = phoneItems(40);
		faults.forEach((fault, index) => simulator.injectFault({ fault, phoneNumber: `47${items[index * 5].phone}` }));
		const run = await runWorkflow(checkInWorkflow({ items, continueOnFail: true, options: { timeout: 300, concurrency: 8 } }), {
			credentials: [simulatorCredential(simulator)],
		});
		const outputs = run.itemsOf(VIPPS_NODE);
		expect(outputs.map((o) => o.pairedItem)).toEqual(items.map((_, item) => ({ item })));
		const failed = outputs.flatMap((o, index) => (o.json.error ? [index] : []));
		// Only the 500 is final; everything else recovers.
		expect(failed).toEqual([30]);
		expect(outputs[30].json.error).toBe('Vipps could not process the check-in (HTTP 500)');
		// Every item arrived once: the body that stalled after a 200 counts as delivered, not resent.
		const delivered = deliveredPhones(simulator);
		expect(new Set(delivered).size).toBe(39);
		expect(delivered).toHaveLength(39);
	}, 20_000);
});

describe('unreachable Vipps', () => {
	it('says the connection was refused and what to check', async () => {
		simulator = await startSimulator();
		// Port 1 (tcpmux): nothing listens there. A port freed by a closed simulator could be taken
		// again by another test's simulator at once.
		const run = await runWorkflow(checkInWorkflow({ items: [{ phone: '91234567', member: true }], continueOnFail: true }), {
			credentials: [simulatorCredential(simulator, { customBaseUrl: 'http://127.0.0.1:1' })],
		});
		const [item] = run.itemsOf(VIPPS_NODE);
		expect(item.json.error).toBe('Could not connect to 127.0.0.1:1: the connection was refused (tried 6 times)');
		expect((item.json.details as { description: string }).description).toMatch(/Environment/);
	}, 20_000);

	it('a host that does not exist fails at once, named, without retries', async () => {
		simulator = await startSimulator();
		const run = await runWorkflow(checkInWorkflow({ items: phoneItems(3), continueOnFail: true }), {
			credentials: [simulatorCredential(simulator, { customBaseUrl: 'http://vipps-simulator.invalid:8080' })],
		});
		const outputs = run.itemsOf(VIPPS_NODE);
		expect(outputs).toHaveLength(3);
		for (const output of outputs) {
			// One token request, tried once: the name will not start resolving on the next attempt.
			expect(output.json.error).toBe('The host vipps-simulator.invalid:8080 was not found');
			expect((output.json.details as { description: string }).description).toContain('ENOTFOUND');
		}
		expect(simulator.tokenRequests()).toHaveLength(0);
	});
});
