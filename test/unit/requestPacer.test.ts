/**
 * The pacer on a fake clock: Jest's fake timers drive both the pacer's waits (n8n-workflow's
 * sleep) and Date.now, so whole batches behind the simulator's gateway logic (fixed and sliding
 * one-second windows, 429 at once or after the latency) run in milliseconds and come out the
 * same on a loaded machine.
 */
import { RequestPacer, type PacerSlot } from '../../nodes/VippsCheckIn/transport/requestPacer';
import { RETRY_POLICY } from '../../nodes/VippsCheckIn/transport/retryPolicy';
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

async function acquireMany(pacer: RequestPacer, count: number): Promise<PacerSlot[]> {
	const slots: PacerSlot[] = [];
	for (let i = 0; i < count; i++) slots.push(await pacer.acquire());
	return slots;
}

/** Start times (fake ms since the first) of `count` requests acquired at once and released straight away. */
async function startTimes(pacer: RequestPacer, count: number): Promise<number[]> {
	const from = Date.now();
	const times: number[] = [];
	const all = Promise.all(
		Array.from({ length: count }, async () => {
			const slot = await pacer.acquire();
			times.push(Date.now() - from);
			slot.release();
		}),
	);
	await jest.advanceTimersByTimeAsync(60_000);
	await all;
	return times;
}

describe('RequestPacer: concurrency', () => {
	it('never lets more than maxConcurrency requests be under way at once', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 3 });
		let active = 0;
		let highest = 0;
		const all = Promise.all(
			Array.from({ length: 20 }, async (_, i) => {
				const slot = await pacer.acquire();
				highest = Math.max(highest, ++active);
				await delay(1 + (i % 3));
				active--;
				slot.release();
			}),
		);
		await jest.advanceTimersByTimeAsync(1_000);
		await all;
		expect(highest).toBe(3);
	});

	it('holds the next caller until a slot is released, and a slot released twice frees one place', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 2 });
		const [first] = await acquireMany(pacer, 2);
		const third = pacer.acquire();
		expect(await settlesWithin(third, 10_000)).toBe(false);
		first.release();
		first.release();
		expect(await settlesWithin(third, 0)).toBe(true);
		expect(await settlesWithin(pacer.acquire(), 10_000)).toBe(false);
	});

	it('goes unpaced until the gateway refuses: a thousand starts in no time', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 128 });
		expect(pacer.currentRateLimit).toBeUndefined();
		expect(Math.max(...(await startTimes(pacer, 1_000)))).toBe(0);
	});
});

describe("RequestPacer: the user's Max Requests per Second", () => {
	it('spaces starts 1/rate apart, from the first', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 10, maxRequestsPerSecond: 50 });
		expect(pacer.currentRateLimit).toBe(50);
		expect(await startTimes(pacer, 5)).toEqual([0, 20, 40, 60, 80]);
	});

	it('saves no starts up while nobody asked: after a quiet spell the spacing starts afresh', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 10, maxRequestsPerSecond: 10 });
		await startTimes(pacer, 1);
		await jest.advanceTimersByTimeAsync(5_000);
		expect(await startTimes(pacer, 3)).toEqual([0, 100, 200]);
	});

	it('is never exceeded: not by the learned rate, nor by its climb', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 30, maxRequestsPerSecond: 20 });
		const oneSecond = await startTimesAndSlots(pacer, 20);
		oneSecond.forEach((slot) => slot.release());
		oneSecond[19].throttled(1_000);
		expect(pacer.currentRateLimit).toBe(18);
		for (let second = 0; second < 30; second++) {
			await jest.advanceTimersByTimeAsync(1_000);
			const next = await pacer.acquire();
			next.succeeded();
			next.release();
		}
		expect(pacer.currentRateLimit).toBe(20);
	});
});

describe('RequestPacer: a 429 cuts the rate once per burst', () => {
	it('to 90 % of the requests under way in the second up to the refused one: started in it, or unanswered since before (they may have left late)', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 200 });
		const answeredLongAgo = await acquireMany(pacer, 60);
		answeredLongAgo.forEach((slot) => slot.release());
		await jest.advanceTimersByTimeAsync(1_500);
		await acquireMany(pacer, 20); // still unanswered
		await jest.advanceTimersByTimeAsync(1_000);
		const slots = await acquireMany(pacer, 80);
		slots[79].throttled(1_000);
		expect(pacer.currentRateLimit).toBe(90);
	});

	it('once paced, to 90 % of the paced rate at most, however many slow answers swell the count', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 500 });
		const burst = await acquireMany(pacer, 100); // all still unanswered
		burst[99].throttled(1_000);
		expect(pacer.currentRateLimit).toBe(90);
		await jest.advanceTimersByTimeAsync(1_000);
		const paced = await startTimesAndSlots(pacer, 90);
		paced[89].throttled(1_000);
		expect(pacer.currentRateLimit).toBeCloseTo(81, 6);
	});

	it('only once for the 429s of requests started before the Retry-After of the cut had passed', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 200 });
		const burst = await acquireMany(pacer, 101);
		burst[100].throttled(1_000);
		const afterCut = pacer.currentRateLimit!;
		const sameBurst = await startTimesAndSlots(pacer, 80); // started within the Retry-After: still the first window
		for (const slot of sameBurst) slot.throttled(1_000);
		expect(pacer.currentRateLimit).toBe(afterCut);

		await jest.advanceTimersByTimeAsync(1_000);
		const [nextBurst] = await acquireMany(pacer, 1);
		nextBurst.throttled(1_000);
		expect(pacer.currentRateLimit!).toBeLessThan(afterCut);
	});

	it('waits out a Retry-After longer than a window for the whole batch (the gateway is closed, not busy), capped by the retry policy', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 10 });
		const slot = await pacer.acquire();
		slot.throttled(3_600_000);
		slot.release();
		const next = pacer.acquire();
		expect(await settlesWithin(next, RETRY_POLICY.maxRetryAfterMs - 1)).toBe(false);
		expect(await settlesWithin(next, 1)).toBe(true);
	});

	it('holds nobody for a Retry-After of one window: only the refused request waits (retry policy)', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 10 });
		const refused = (await acquireMany(pacer, 5))[4];
		refused.throttled(1_000);
		refused.release();
		// Paced at 90 % of the 5 started: the next start is due within a fraction of a second.
		expect(await settlesWithin(pacer.acquire(), 300)).toBe(true);
	});
});

describe('RequestPacer: the climb', () => {
	it('raises the rate 5 % for each second in which requests succeed, and not while nothing succeeds', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 200 });
		const slots = await acquireMany(pacer, 100);
		slots[99].throttled(1_000);
		expect(pacer.currentRateLimit).toBe(90);
		await jest.advanceTimersByTimeAsync(3_000);
		expect(pacer.currentRateLimit).toBe(90);
		for (let second = 1; second <= 2; second++) {
			slots[second].succeeded();
			slots[second + 10].succeeded(); // a second success within the same second adds nothing
			expect(pacer.currentRateLimit).toBeCloseTo(90 * 1.05 ** second, 6);
			await jest.advanceTimersByTimeAsync(1_000);
		}
	});
});

describe('RequestPacer: cancellation', () => {
	it('rejects at once for a signal already aborted, and takes no slot', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 1 });
		const reason = new Error('execution cancelled');
		await expect(pacer.acquire(AbortSignal.abort(reason))).rejects.toBe(reason);
		expect(await settlesWithin(pacer.acquire(), 0)).toBe(true);
	});

	it('rejects every caller waiting for a slot when the execution is cancelled, and leaves the slot to a later caller', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 1 });
		const holder = await pacer.acquire();
		const execution = new AbortController();
		const waiting = [pacer.acquire(execution.signal), pacer.acquire(execution.signal)];
		waiting.forEach((promise) => promise.catch(() => undefined));
		const reason = new Error('stop');
		execution.abort(reason);
		for (const promise of waiting) await expect(promise).rejects.toBe(reason);
		const later = pacer.acquire();
		expect(await settlesWithin(later, 10_000)).toBe(false);
		holder.release();
		expect(await settlesWithin(later, 0)).toBe(true);
	});

	it('rejects callers waiting for a paced start or a held gateway when cancelled', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 10, maxRequestsPerSecond: 1 });
		const slot = await pacer.acquire();
		slot.throttled(30_000);
		slot.release();
		const execution = new AbortController();
		const waiting = pacer.acquire(execution.signal);
		waiting.catch(() => undefined);
		expect(await settlesWithin(waiting, 10_000)).toBe(false);
		execution.abort();
		await expect(waiting).rejects.toBeDefined();
	});
});

/** `count` requests acquired one after the other as the pacer lets them (timers run as needed). */
async function startTimesAndSlots(pacer: RequestPacer, count: number): Promise<PacerSlot[]> {
	const slots: PacerSlot[] = [];
	for (let i = 0; i < count; i++) {
		const next = pacer.acquire();
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
	const pacer = new RequestPacer({ maxConcurrency: options.concurrency });
	const run: BatchRun = { elapsedMs: 0, cuts: [], refusals: 0, delivered: 0 };
	const startedAt = Date.now();
	let next = 0;
	const worker = async () => {
		while (next < options.items) {
			next++;
			for (;;) {
				const slot = await pacer.acquire();
				const admission = gateway.tryAdmit(Date.now());
				if (admission.admitted || options.throttle === 'after-latency') await delay(options.latencyMs);
				if (admission.admitted) {
					slot.succeeded();
					slot.release();
					run.delivered++;
					break;
				}
				const before = pacer.currentRateLimit;
				slot.throttled(admission.retryAfterSeconds * 1000);
				slot.release();
				run.refusals++;
				if (pacer.currentRateLimit !== before) run.cuts.push(pacer.currentRateLimit!);
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
