/**
 * Flaky networks and a throttling gateway, injected by the simulator per request: every input
 * item still yields exactly one output or error item, paired and in order.
 */
import { runWorkflow } from '../../harness/runWorkflow';
import { RETRY_POLICY } from '../../nodes/VippsCheckIn/transport/retryPolicy';
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

/** Long enough that an answering simulator answers in time even on a busy machine (in-process, under load): only `hang` times out. */
const TIMEOUT_MS = 5_000;

describe('retried faults', () => {
	const mayHaveArrived: Array<[string, Fault]> = [
		['503 Service Unavailable', { kind: 'status', status: 503 }],
		['502 Bad Gateway', { kind: 'status', status: 502 }],
		['504 Gateway Timeout', { kind: 'status', status: 504 }],
		['a connection reset after the request was read', { kind: 'reset' }],
		['a response that never comes (timeout)', { kind: 'hang' }],
	];

	it.each(mayHaveArrived)('after %s, sends the check-in once more, delivers it and says it may be a duplicate', async (_, fault) => {
		simulator = await startSimulator();
		simulator.injectFault({ fault, path: CHECK_IN_PATH });
		const run = await runWorkflow(checkInWorkflow({ items: [{ phone: '91234567', member: true }], options: { timeout: TIMEOUT_MS } }), {
			credentials: [simulatorCredential(simulator)],
		});
		expect(run.error).toBeUndefined();
		expect(run.itemsOf(VIPPS_NODE)[0].json).toMatchObject({ checkInId: expect.any(String), phoneNumber: '4791234567', attempts: 2, possibleDuplicate: true });
		expect(simulator.checkInRequests().map((r) => r.fault ?? r.status)).toEqual([fault.kind, 200]);
	}, 60_000);

	it('after 429s (the gateway refused them), sends the check-in again until it is taken, no duplicate', async () => {
		simulator = await startSimulator();
		simulator.injectFault({ fault: { kind: 'status', status: 429 }, path: CHECK_IN_PATH, times: 2 });
		const run = await runWorkflow(checkInWorkflow({ items: [{ phone: '91234567', member: true }] }), {
			credentials: [simulatorCredential(simulator)],
		});
		expect(run.error).toBeUndefined();
		expect(run.itemsOf(VIPPS_NODE)[0].json).toMatchObject({ checkInId: expect.any(String), attempts: 3, possibleDuplicate: false });
		expect(simulator.checkInRequests().map((r) => r.status)).toEqual([429, 429, 200]);
	}, 60_000);

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
			details: {
				description: 'phoneNumber: The user is not a Vipps user.',
				httpCode: '400',
				phoneNumber: '4791234567',
				isMember: true,
				attempts: 1,
				possibleDuplicate: false,
			},
		});
		expect(simulator.checkInRequests()).toHaveLength(1);
	});

	it('gives up after the second 503, says how many attempts it made and that the customer may have seen it', async () => {
		simulator = await startSimulator();
		simulator.injectFault({ fault: { kind: 'status', status: 503 }, path: CHECK_IN_PATH, times: Infinity });
		const run = await runWorkflow(checkInWorkflow({ items: [{ phone: '91234567', member: true }], continueOnFail: true }), {
			credentials: [simulatorCredential(simulator)],
		});
		const { json } = run.itemsOf(VIPPS_NODE)[0];
		expect(json.error).toBe('Vipps was unavailable for the check-in (HTTP 503), after 2 attempts');
		expect((json.details as { description: string }).description).toContain('the customer may have seen the check-in');
		expect(simulator.checkInRequests()).toHaveLength(2);
	}, 60_000);
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
		const run = await runWorkflow(checkInWorkflow({ items: [{ phone: '91234567', member: true }], options: { timeout: TIMEOUT_MS } }), {
			credentials: [simulatorCredential(simulator)],
		});
		expect(run.error).toBeUndefined();
		expect(run.itemsOf(VIPPS_NODE)[0].json).toMatchObject({ checkInId: null, phoneNumber: '4791234567', attempts: 1, possibleDuplicate: false });
		expect(simulator.checkInRequests()).toHaveLength(1);
	}, 60_000);

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
	it('on 429 with Retry-After the refused check-in waits that long, is sent again, and every item completes once', async () => {
		simulator = await startSimulator();
		simulator.injectFault({ fault: { kind: 'status', status: 429, retryAfterSeconds: 1 }, phoneNumber: '4790000003', times: 1 });
		const items = phoneItems(12);
		const run = await runWorkflow(checkInWorkflow({ items, options: { concurrency: 2 } }), {
			credentials: [simulatorCredential(simulator)],
		});
		expect(run.error).toBeUndefined();
		const outputs = run.itemsOf(VIPPS_NODE).map((i) => i.json);
		expect(outputs.map((json) => json.phoneNumber)).toEqual(items.map((i) => `47${i.phone}`));
		// A 429 is the gateway's refusal: it never reached Vipps, so the resend is no possible duplicate.
		expect(outputs.find((json) => json.phoneNumber === '4790000003')).toMatchObject({ attempts: 2, possibleDuplicate: false });
		const refused = simulator.checkInRequests().filter((r) => (r.body as { phoneNumber?: string } | undefined)?.phoneNumber === '4790000003');
		expect(refused.map((r) => r.status)).toEqual([429, 200]);
		// The wait starts once the 429 is back, so however busy the machine, it is never shorter.
		expect(refused[1].receivedAt - refused[0].receivedAt).toBeGreaterThanOrEqual(1000);
		expect(deliveredPhones(simulator).sort()).toEqual(items.map((i) => `47${i.phone}`).sort());
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
	}, 60_000);

	it('a rate cap chosen by the user keeps the gateway from ever answering 429', async () => {
		simulator = await startSimulator({ gateway: { requestsPerSecond: 30 } });
		// Half the gateway's limit: requests a busy machine delays and bunches on their way still fit.
		const run = await runWorkflow(checkInWorkflow({ items: phoneItems(30), options: { maxRequestsPerSecond: 15 } }), {
			credentials: [simulatorCredential(simulator)],
		});
		expect(run.error).toBeUndefined();
		expect(simulator.requests.filter((r) => r.status === 429)).toEqual([]);
		expect(deliveredPhones(simulator)).toHaveLength(30);
	}, 60_000);
});

describe('nothing lost, nothing duplicated', () => {
	it('a batch hit by every kind of fault yields one output per item, in order; no check-in reaches Vipps more than twice, and none twice unless its item says so', async () => {
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
		const run = await runWorkflow(checkInWorkflow({ items, continueOnFail: true, options: { timeout: TIMEOUT_MS, concurrency: 8 } }), {
			credentials: [simulatorCredential(simulator)],
		});
		const outputs = run.itemsOf(VIPPS_NODE);
		expect(outputs.map((o) => o.pairedItem)).toEqual(items.map((_, item) => ({ item })));
		// Only the 500 is final; everything else recovers.
		expect(outputs.flatMap((o, index) => (o.json.error ? [index] : []))).toEqual([30]);
		expect(outputs[30].json.error).toBe('Vipps could not process the check-in (HTTP 500)');
		for (const [index, { json }] of outputs.entries()) {
			const phoneNumber = `47${items[index].phone}`;
			const arrived = simulator.checkInRequests().filter((r) => (r.body as { phoneNumber: string }).phoneNumber === phoneNumber);
			const delivered = arrived.filter((r) => r.status === 200);
			// What reached the simulator: at most twice, never more than the item says it sent.
			expect({ phoneNumber, arrived: arrived.length <= 2 && arrived.length <= Number(json.attempts ?? 1) }).toEqual({ phoneNumber, arrived: true });
			// Taken once; twice only for an item that says it may be a duplicate.
			if (!json.error) expect({ phoneNumber, delivered: delivered.length }).toEqual({ phoneNumber, delivered: json.possibleDuplicate ? expect.any(Number) : 1 });
		}
		// The faults that may have let the first attempt arrive say so; the body that stalled after a 200 counts as delivered, not resent.
		expect([0, 5, 10].map((index) => outputs[index].json.possibleDuplicate)).toEqual([true, true, true]);
		expect(outputs[15].json).toMatchObject({ checkInId: null, attempts: 1, possibleDuplicate: false });
	}, 60_000);
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
		expect(item.json.error).toBe(`Could not connect to 127.0.0.1:1: the connection was refused, after ${RETRY_POLICY.maxAttempts} attempts`);
		expect((item.json.details as { description: string }).description).toMatch(/Environment/);
	}, 60_000);

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
