/**
 * The pacer on a fake clock: Jest's fake timers drive both the pacer's waits (n8n-workflow's
 * sleep) and Date.now, so whole batches behind the simulator's gateway logic (fixed and sliding
 * one-second windows, 429 at once or after the latency) run in milliseconds and come out the
 * same on a loaded machine.
 */
import { GatewayClosed, RequestPacer, pacerFor, type RateCap, type RunOptions } from '../../nodes/VippsCheckIn/transport/requestPacer';
import type { VippsCredentials } from '../../nodes/VippsCheckIn/helpers/vippsCredentials';
import { MAX_TARGETS } from '../../nodes/VippsCheckIn/transport/targets';
import { gatewayLimiter, type GatewayThrottle, type GatewayWindow } from '../../simulator/gateway';

/** A whole clock second, so a start phase is easy to read. */
const T0 = Date.UTC(2025, 0, 1, 12);

beforeEach(() => {
	jest.useFakeTimers({ now: T0 });
});

afterEach(() => {
	jest.useRealTimers();
});

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Settled after the timers due within `ms` (fake time) ran? */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
	let settled = false;
	promise.then(
		() => (settled = true),
		() => (settled = true),
	);
	await jest.advanceTimersByTimeAsync(ms);
	return settled;
}

/** A request started by `pacer.run`, answered when the test says so; each answer resolves once learned from. */
interface PacerSlot {
	release(): Promise<void>;
	throttled(retryAfterMs: number | undefined): Promise<void>;
	succeeded(): Promise<void>;
}

/** Resolves once `pacer` started the request. */
function acquire(pacer: RequestPacer, options: RunOptions = {}): Promise<PacerSlot> {
	return new Promise<PacerSlot>((started, refused) => {
		const run = pacer.run(
			() =>
				new Promise<{ status?: number; retryAfterMs?: number }>((answer) => {
					const answered = (value: { status?: number; retryAfterMs?: number }) => {
						answer(value);
						return run.then(() => undefined);
					};
					started({ release: async () => await answered({}), throttled: async (retryAfterMs) => await answered({ status: 429, retryAfterMs }), succeeded: async () => await answered({ status: 200 }) });
				}),
			options,
		);
		run.catch(refused);
	});
}

const cap = (perSecond: number): RateCap => ({ perSecond, nextStartAt: 0 });

async function acquireMany(pacer: RequestPacer, count: number): Promise<PacerSlot[]> {
	const slots: PacerSlot[] = [];
	for (let i = 0; i < count; i++) slots.push(await acquire(pacer));
	return slots;
}

/** Start times (fake ms since the first) of `count` requests acquired at once and released straight away. */
async function startTimes(pacer: RequestPacer, count: number, options: RunOptions = {}): Promise<number[]> {
	const from = Date.now();
	const times: number[] = [];
	const all = Promise.all(
		Array.from({ length: count }, async () => {
			const slot = await acquire(pacer, options);
			times.push(Date.now() - from);
			await slot.release();
		}),
	);
	await jest.advanceTimersByTimeAsync(60_000);
	await all;
	return times;
}

describe('RequestPacer: unpaced until the gateway refuses', () => {
	it('a thousand starts in no time', async () => {
		const pacer = new RequestPacer();
		expect(pacer.rate).toBeUndefined();
		expect(Math.max(...(await startTimes(pacer, 1_000)))).toBe(0);
	});
});

describe("RequestPacer: the caller's cap (Max Requests per Second)", () => {
	it('spaces starts 1/rate apart, from the first', async () => {
		expect(await startTimes(new RequestPacer(), 5, { cap: cap(50) })).toEqual([0, 20, 40, 60, 80]);
	});

	it('saves no starts up while nobody asked: after a quiet spell the spacing starts afresh', async () => {
		const pacer = new RequestPacer();
		const mine = cap(10);
		await startTimes(pacer, 1, { cap: mine });
		await jest.advanceTimersByTimeAsync(5_000);
		expect(await startTimes(pacer, 3, { cap: mine })).toEqual([0, 100, 200]);
	});

	it('is never exceeded, not by a higher learned rate nor by its climb', async () => {
		const pacer = new RequestPacer();
		const burst = await acquireMany(pacer, 100);
		await burst[99].throttled(1_000);
		expect(pacer.rate).toBe(90);
		for (const slot of burst.slice(0, 5)) {
			await jest.advanceTimersByTimeAsync(1_000);
			await slot.succeeded();
		}
		expect(pacer.rate).toBeGreaterThan(90);
		const times = await startTimes(pacer, 10, { cap: cap(20) });
		expect(times.slice(1).map((time, i) => time - times[i])).toEqual(Array(9).fill(50));
	});

	it("is one caller's: another caller on the same pacer is not held by it", async () => {
		const pacer = new RequestPacer();
		const slow = startTimes(pacer, 5, { cap: cap(1) });
		expect(await startTimes(pacer, 5)).toEqual([0, 0, 0, 0, 0]);
		expect(await slow).toEqual([0, 1_000, 2_000, 3_000, 4_000]);
	});
});

describe('RequestPacer: a 429 cuts the rate once per burst', () => {
	it('to 90 % of the requests under way in the second up to the refused one: started in it, or unanswered since before (they may have left late)', async () => {
		const pacer = new RequestPacer();
		const answeredLongAgo = await acquireMany(pacer, 60);
		await Promise.all(answeredLongAgo.map(async (slot) => await slot.release()));
		await jest.advanceTimersByTimeAsync(1_500);
		await acquireMany(pacer, 20); // still unanswered
		await jest.advanceTimersByTimeAsync(1_000);
		const slots = await acquireMany(pacer, 80);
		await slots[79].throttled(1_000);
		expect(pacer.rate).toBe(90);
	});

	it('counting the requests answered before its 429 came back, though started after it (over TLS one started early can arrive late)', async () => {
		const pacer = new RequestPacer();
		const burst = await acquireMany(pacer, 100);
		// The tenth started reaches the gateway last: the 90 started after it are answered first.
		for (const slot of burst.slice(10)) await slot.succeeded();
		await burst[9].throttled(1_000);
		expect(pacer.rate).toBe(90);
	});

	it('not counting the unanswered requests started after it: they may not have reached the gateway', async () => {
		const pacer = new RequestPacer();
		const burst = await acquireMany(pacer, 100);
		await burst[49].throttled(1_000);
		expect(pacer.rate).toBe(45);
	});

	it('once paced, to 90 % of the paced rate at most, however many slow answers swell the count', async () => {
		const pacer = new RequestPacer();
		const burst = await acquireMany(pacer, 100); // all still unanswered
		await burst[99].throttled(1_000);
		expect(pacer.rate).toBe(90);
		await jest.advanceTimersByTimeAsync(1_000);
		const paced = await startTimesAndSlots(pacer, 90);
		await paced[89].throttled(1_000);
		expect(pacer.rate).toBeCloseTo(81, 6);
	});

	it('only once for the 429s of requests started before the Retry-After of the cut had passed', async () => {
		const pacer = new RequestPacer();
		const burst = await acquireMany(pacer, 101);
		await burst[100].throttled(1_000);
		const afterCut = pacer.rate!;
		const sameBurst = await startTimesAndSlots(pacer, 80); // started within the Retry-After: still the first window
		for (const slot of sameBurst) await slot.throttled(1_000);
		expect(pacer.rate).toBe(afterCut);

		await jest.advanceTimersByTimeAsync(1_000);
		const [nextBurst] = await acquireMany(pacer, 1);
		await nextBurst.throttled(1_000);
		expect(pacer.rate!).toBeLessThan(afterCut);
	});

	it('holds nobody for a Retry-After of one window: only the refused request waits (retry policy)', async () => {
		const pacer = new RequestPacer();
		const refused = (await acquireMany(pacer, 5))[4];
		await refused.throttled(1_000);
		// Paced at 90 % of the 5 started: the next start is due within a fraction of a second.
		expect(await settlesWithin(acquire(pacer), 300)).toBe(true);
	});
});

describe('RequestPacer: a closed gateway (Retry-After longer than a window)', () => {
	it('starts nothing before it opens', async () => {
		const pacer = new RequestPacer();
		const [slot] = await acquireMany(pacer, 1);
		await slot.throttled(30_000);
		const next = acquire(pacer);
		expect(await settlesWithin(next, 29_999)).toBe(false);
		expect(await settlesWithin(next, 1)).toBe(true);
	});

	it('tells a caller whose deadline comes first at once, sending nothing, and still lets later callers wait', async () => {
		const pacer = new RequestPacer();
		const [slot] = await acquireMany(pacer, 1);
		await slot.throttled(3_600_000);
		const sent = jest.fn(async () => ({ status: 200 }));
		const refusal = pacer.run(sent, { deadline: Date.now() + 120_000 });
		await expect(refusal).rejects.toEqual(new GatewayClosed(T0 + 3_600_000));
		await expect(refusal).rejects.toMatchObject({ until: T0 + 3_600_000 });
		expect(sent).not.toHaveBeenCalled();
		const patient = acquire(pacer, { deadline: Date.now() + 4_000_000 });
		expect(await settlesWithin(patient, 3_599_999)).toBe(false);
		expect(await settlesWithin(patient, 1)).toBe(true);
	});
});

describe('RequestPacer: the climb', () => {
	it('raises the rate 5 % for each second in which requests succeed, and not while nothing succeeds', async () => {
		const pacer = new RequestPacer();
		const slots = await acquireMany(pacer, 100);
		await slots[99].throttled(1_000);
		expect(pacer.rate).toBe(90);
		await jest.advanceTimersByTimeAsync(3_000);
		expect(pacer.rate).toBe(90);
		for (let second = 1; second <= 2; second++) {
			await slots[second].succeeded();
			await slots[second + 10].succeeded(); // a second success within the same second adds nothing
			expect(pacer.rate).toBeCloseTo(90 * 1.05 ** second, 6);
			await jest.advanceTimersByTimeAsync(1_000);
		}
	});
});

describe('RequestPacer: cancellation', () => {
	it('rejects at once for a signal already aborted, and sends nothing', async () => {
		const reason = new Error('execution cancelled');
		const sent = jest.fn(async () => ({}));
		await expect(new RequestPacer().run(sent, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
		expect(sent).not.toHaveBeenCalled();
	});

	it('rejects callers waiting for a paced start or a held gateway when cancelled, and the line goes on', async () => {
		const pacer = new RequestPacer();
		const [slot] = await acquireMany(pacer, 1);
		await slot.throttled(30_000);
		const execution = new AbortController();
		const waiting = [acquire(pacer, { signal: execution.signal }), acquire(pacer, { signal: execution.signal, cap: cap(1) })];
		waiting.forEach((promise) => promise.catch(() => undefined));
		expect(await settlesWithin(waiting[0], 10_000)).toBe(false);
		execution.abort(new Error('stop'));
		for (const promise of waiting) await expect(promise).rejects.toThrow('stop');
		expect(await settlesWithin(acquire(pacer), 20_000)).toBe(true);
	});
});

describe('pacerFor: one pacer per credential target per process', () => {
	const target = (overrides: Partial<VippsCredentials> = {}): VippsCredentials => ({
		environment: 'custom',
		baseUrl: 'http://127.0.0.1:9',
		clientId: 'id',
		clientSecret: 'secret',
		subscriptionKey: 'key',
		systemHeaders: {},
		...overrides,
	});

	it('is shared by equal keys whatever the MSN, and separate for other keys or another base URL', () => {
		expect(pacerFor(target())).toBe(pacerFor({ ...target(), merchantSerialNumber: '123456' }));
		for (const other of [{ baseUrl: 'http://127.0.0.1:10' }, { clientId: 'x' }, { clientSecret: 'x' }, { subscriptionKey: 'x' }]) {
			expect(pacerFor(target(other))).not.toBe(pacerFor(target()));
		}
	});

	it(`keeps at most ${MAX_TARGETS} targets, the least recently used going first`, () => {
		const first = pacerFor(target({ clientId: 'first' }));
		for (let i = 0; i < MAX_TARGETS - 1; i++) pacerFor(target({ clientId: `other-${i}` }));
		expect(pacerFor(target({ clientId: 'first' }))).toBe(first);
		for (let i = 0; i < MAX_TARGETS; i++) pacerFor(target({ clientId: `more-${i}` }));
		expect(pacerFor(target({ clientId: 'first' }))).not.toBe(first);
	});
});

/** `count` requests acquired one after the other as the pacer lets them (timers run as needed). */
async function startTimesAndSlots(pacer: RequestPacer, count: number): Promise<PacerSlot[]> {
	const slots: PacerSlot[] = [];
	for (let i = 0; i < count; i++) {
		const next = acquire(pacer);
		while (!(await settlesWithin(next, 1)));
		slots.push(await next);
	}
	return slots;
}

interface BatchRun {
	elapsedMs: number;
	/** The rate after each cut. */
	cuts: number[];
	refusals: number;
	delivered: number;
}

/**
 * One execution's batch, as the node runs it, behind the simulator's gateway logic: `concurrency`
 * workers take the items in order; a refused request is released, waits its Retry-After (the
 * retry policy's wait) and goes through the pacer again.
 */
async function sendBatch(options: {
	items: number;
	concurrency: number;
	limit: number;
	window: GatewayWindow;
	throttle: GatewayThrottle;
	latencyMs: number;
	startPhaseMs: number;
}): Promise<BatchRun> {
	jest.setSystemTime(T0 + options.startPhaseMs);
	const gateway = gatewayLimiter(options.limit, options.window);
	const pacer = new RequestPacer();
	const run: BatchRun = { elapsedMs: 0, cuts: [], refusals: 0, delivered: 0 };
	const startedAt = Date.now();
	let next = 0;
	const worker = async () => {
		while (next < options.items) {
			next++;
			for (;;) {
				const before = pacer.rate;
				const admission = await pacer.run(async () => {
					const answer = gateway.tryAdmit(Date.now());
					if (answer.admitted || options.throttle === 'after-latency') await delay(options.latencyMs);
					return answer.admitted ? { ...answer, status: 200 } : { ...answer, status: 429, retryAfterMs: answer.retryAfterSeconds * 1000 };
				});
				if (admission.admitted) {
					run.delivered++;
					break;
				}
				run.refusals++;
				if (pacer.rate !== before) run.cuts.push(pacer.rate!);
				await delay(admission.retryAfterSeconds * 1000);
			}
		}
	};
	let done = false;
	const all = Promise.all(Array.from({ length: options.concurrency }, worker)).then(() => (done = true));
	while (!done) await jest.advanceTimersByTimeAsync(5);
	await all;
	run.elapsedMs = Date.now() - startedAt;
	return run;
}

describe('RequestPacer behind a 100 requests/second gateway: 1,000 items, Concurrency 128, 50 ms latency', () => {
	const cases: Array<[GatewayWindow, GatewayThrottle, number]> = [];
	for (const window of ['fixed', 'sliding'] as const) {
		for (const throttle of ['instant', 'after-latency'] as const) {
			for (const startPhaseMs of [0, 400, 950]) cases.push([window, throttle, startPhaseMs]);
		}
	}

	it.each(cases)(
		'%s windows, 429 %s, starting %p ms into a second: never cut below 90 %% of the limit, all delivered within 1.2× the ideal 10 s',
		async (window, throttle, startPhaseMs) => {
			const run = await sendBatch({ items: 1_000, concurrency: 128, limit: 100, window, throttle, latencyMs: 50, startPhaseMs });
			expect(run.delivered).toBe(1_000);
			expect(run.cuts.length).toBeGreaterThan(0);
			expect(Math.min(...run.cuts)).toBeGreaterThanOrEqual(90);
			expect(run.elapsedMs).toBeLessThanOrEqual(12_000);
		},
	);
});
