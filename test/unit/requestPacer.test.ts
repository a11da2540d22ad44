/**
 * The pacer's decisions are tested with an injected clock the test moves by hand (its waits are
 * n8n-workflow's sleep, on the real clock), and the few waits that must really elapse are kept
 * to tens of milliseconds.
 */
import { setImmediate as nextTurn, setTimeout as realDelay } from 'node:timers/promises';

import { RequestPacer, type PacerSlot } from '../../nodes/VippsCheckIn/transport/requestPacer';
import { RETRY_POLICY } from '../../nodes/VippsCheckIn/transport/retryPolicy';

class FakeClock {
	time = 10_000;
	readonly now = () => this.time;
	advance(ms: number): void {
		this.time += ms;
	}
}

/** True when `promise` has neither resolved nor rejected after one macrotask turn. */
async function stillPending(promise: Promise<unknown>): Promise<boolean> {
	let settled = false;
	promise.then(
		() => {
			settled = true;
		},
		() => {
			settled = true;
		},
	);
	await nextTurn();
	return !settled;
}

/** A caller arriving at `heldAt` (fake clock) is still held; one arriving at `freeAt` goes through. */
async function expectHeldThenFree(pacer: RequestPacer, clock: FakeClock, heldAt: number, freeAt: number): Promise<void> {
	clock.time = heldAt;
	const abort = new AbortController();
	const early = pacer.acquire(abort.signal);
	await realDelay(5);
	expect(await stillPending(early)).toBe(true);
	abort.abort();
	await expect(early).rejects.toBeDefined();

	clock.time = freeAt;
	expect(await stillPending(pacer.acquire())).toBe(false);
}

async function acquireMany(pacer: RequestPacer, count: number): Promise<PacerSlot[]> {
	const slots: PacerSlot[] = [];
	for (let i = 0; i < count; i++) slots.push(await pacer.acquire());
	return slots;
}

/** `count` requests that start and succeed, `stepMs` apart on the fake clock. */
async function succeedMany(pacer: RequestPacer, clock: FakeClock, count: number, stepMs = 0): Promise<void> {
	for (let i = 0; i < count; i++) {
		if (i > 0) clock.advance(stepMs);
		const slot = await pacer.acquire();
		slot.succeeded();
		slot.release();
	}
}

describe('RequestPacer: concurrency', () => {
	it('never lets more than maxConcurrency requests be active at once', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 3 });
		let active = 0;
		let highest = 0;
		let finished = 0;
		await Promise.all(
			Array.from({ length: 20 }, async (_, i) => {
				const slot = await pacer.acquire();
				active++;
				highest = Math.max(highest, active);
				for (let turn = 0; turn <= i % 3; turn++) await nextTurn();
				active--;
				finished++;
				slot.release();
			}),
		);
		expect(finished).toBe(20);
		expect(highest).toBe(3);
	});

	it('holds the next caller until a slot is released', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 2 });
		const [first] = await acquireMany(pacer, 2);
		const third = pacer.acquire();
		expect(await stillPending(third)).toBe(true);
		first.release();
		expect(await stillPending(third)).toBe(false);
	});

	it('frees only one place when a slot is released twice', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 1 });
		const first = await pacer.acquire();
		first.release();
		first.release();
		await pacer.acquire();
		expect(await stillPending(pacer.acquire())).toBe(true);
	});
});

describe('RequestPacer: rate cap', () => {
	it('reports the rate cap the user chose, and none without one', () => {
		expect(new RequestPacer({ maxConcurrency: 5, maxRequestsPerSecond: 4 }).currentRateLimit).toBe(4);
		expect(new RequestPacer({ maxConcurrency: 5 }).currentRateLimit).toBeUndefined();
	});

	it('holds a second start within 1/rate of the first, even with free slots', async () => {
		const clock = new FakeClock();
		const pacer = new RequestPacer({ maxConcurrency: 10, maxRequestsPerSecond: 1, now: clock.now });
		await pacer.acquire();
		const abort = new AbortController();
		const second = pacer.acquire(abort.signal);
		expect(await stillPending(second)).toBe(true);
		abort.abort();
		await expect(second).rejects.toBeDefined();
	});

	it('lets a start through at once when 1/rate has passed since the previous one', async () => {
		const clock = new FakeClock();
		const pacer = new RequestPacer({ maxConcurrency: 10, maxRequestsPerSecond: 1, now: clock.now });
		await pacer.acquire();
		clock.advance(1_000);
		expect(await stillPending(pacer.acquire())).toBe(false);
	});

	it('spaces consecutive starts by 1/rate on the real clock', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 10, maxRequestsPerSecond: 50 }); // 20 ms apart
		const calledAt = Date.now();
		const startedAt = await Promise.all(
			Array.from({ length: 5 }, async () => {
				const slot = await pacer.acquire();
				slot.release();
				return Date.now();
			}),
		);
		startedAt.sort((a, b) => a - b);
		// The n-th start is due 20·n ms after the calls; a busy machine may start it later, never
		// earlier (allowing the millisecond a timer may fire early against Date.now()).
		startedAt.forEach((at, n) => expect(at - calledAt).toBeGreaterThanOrEqual(20 * n - 1));
	});
});

/** A slowdown learned from `gotThrough` successes within the last second; returns when it was. */
async function slowDownAfter(pacer: RequestPacer, clock: FakeClock, gotThrough: number): Promise<number> {
	const slow = await pacer.acquire(); // answered 429 only after the others
	clock.advance(1);
	await succeedMany(pacer, clock, gotThrough);
	slow.throttled(0);
	slow.release();
	return clock.time;
}

describe('RequestPacer: throttled()', () => {
	it('learns a rate just under what got through in the last second', async () => {
		const clock = new FakeClock();
		const pacer = new RequestPacer({ maxConcurrency: 20, now: clock.now });
		const slow = await pacer.acquire(); // answered 429 only much later
		await succeedMany(pacer, clock, 3);
		clock.advance(1_500); // those three are more than a second old now
		await succeedMany(pacer, clock, 10);
		slow.throttled(0);
		expect(pacer.currentRateLimit).toBe(9); // 10 got through; 90 % of that
	});

	it('learns a rate of at least 1 per second', async () => {
		const clock = new FakeClock();
		const pacer = new RequestPacer({ maxConcurrency: 4, now: clock.now });
		(await pacer.acquire()).throttled(0);
		expect(pacer.currentRateLimit).toBe(1);
	});

	it('slows down once for several 429s of one burst, and again for a 429 from a request started after the slowdown', async () => {
		const clock = new FakeClock();
		const pacer = new RequestPacer({ maxConcurrency: 20, now: clock.now });
		const burst = await acquireMany(pacer, 4);
		clock.advance(1);
		await succeedMany(pacer, clock, 20);
		burst[0].throttled(0);
		for (const slot of burst) slot.release();
		expect(pacer.currentRateLimit).toBe(18);

		clock.advance(5_000);
		const later = await pacer.acquire();
		burst[1].throttled(0); // still the first burst
		expect(pacer.currentRateLimit).toBe(18);
		later.throttled(0);
		expect(pacer.currentRateLimit).toBeLessThan(18);
	});

	it('after a 429 at a paced rate, learns 90 % of that rate even when more got through in the last second', async () => {
		// Timers firing late bunch paced requests, and behind fixed one-second windows a second can
		// let up to twice the limit through across a window boundary: what got through then
		// overstates the limit, while the rate that drew the 429 is known to be too high.
		const clock = new FakeClock();
		const pacer = new RequestPacer({ maxConcurrency: 50, maxRequestsPerSecond: 36, now: clock.now });
		const paced: PacerSlot[] = [];
		for (let i = 0; i < 41; i++) {
			clock.advance(28); // each start due at 36 per second
			paced.push(await pacer.acquire());
		}
		for (const slot of paced.slice(0, 40)) slot.succeeded(); // 40 answers bunched within the last second
		paced[40].throttled(0);
		expect(pacer.currentRateLimit).toBe(32); // 90 % of 36, not of 40
	});

	it('after a 429 before a whole window passed since the pause, cuts deeper: that rate filled a fresh window', async () => {
		// Fixed windows: the rest of the window the pause ended in, then one whole window (2 s).
		const clock = new FakeClock();
		const pacer = new RequestPacer({ maxConcurrency: 50, now: clock.now });
		await slowDownAfter(pacer, clock, 40);

		clock.advance(1_500);
		const paced = await pacer.acquire();
		await succeedMany(pacer, clock, 10, 28);
		paced.throttled(0);
		expect(pacer.currentRateLimit).toBe(8); // 90 % of 90 % of the 10 that got through since the pause
	});

	it('counts what got through since the latest pause ended, not what came back during it', async () => {
		const clock = new FakeClock();
		const pacer = new RequestPacer({ maxConcurrency: 80, now: clock.now });
		const inFlight = await acquireMany(pacer, 20);
		const first = await pacer.acquire();
		clock.advance(1);
		await succeedMany(pacer, clock, 40);
		first.throttled(1_000); // 36 per second from now on
		first.release();
		clock.advance(500);
		for (const slot of inFlight) slot.succeeded(); // answered during the pause: admitted before it
		clock.advance(500); // the pause is over

		const paced = await pacer.acquire();
		await succeedMany(pacer, clock, 5, 28);
		paced.throttled(0);
		expect(pacer.currentRateLimit).toBe(4); // 90 % of the 5 since the pause, not of 25
	});

	it('after a 429 at a paced rate, climbs back no higher than 95 % of the limit it learned', async () => {
		const clock = new FakeClock();
		const pacer = new RequestPacer({ maxConcurrency: 50, now: clock.now });
		await slowDownAfter(pacer, clock, 40);
		const paced = await pacer.acquire();
		paced.throttled(0); // paced at 36 per second, refused at once: 32.4 is the limit it learned
		paced.release();

		const rates: number[] = [];
		for (let second = 1; second <= 20; second++) {
			clock.advance(1_000);
			await succeedMany(pacer, clock, 1);
			rates.push(pacer.currentRateLimit!);
		}
		expect(Math.max(...rates)).toBeCloseTo(36 * 0.9 * 0.95, 5);
	});

	it('keeps the lower of the learned rate and the user cap', async () => {
		const clock = new FakeClock();
		const capped = new RequestPacer({ maxConcurrency: 20, maxRequestsPerSecond: 3, now: clock.now });
		const slow = await capped.acquire();
		clock.advance(1_001);
		await succeedMany(capped, clock, 3, 334); // each start due by then under a cap of 3 per second
		slow.throttled(0);
		// 3 got through in the last second: the learned 2 per second is below the cap
		expect(capped.currentRateLimit).toBe(2);

		const loose = new RequestPacer({ maxConcurrency: 20, maxRequestsPerSecond: 100, now: clock.now });
		const looseSlow = await loose.acquire();
		clock.advance(1_001);
		await succeedMany(loose, clock, 10, 10);
		looseSlow.throttled(0);
		expect(loose.currentRateLimit).toBe(9);
	});

	it('leaves the number of requests in flight as the user set it: the rate alone slows the batch down', async () => {
		const clock = new FakeClock();
		const pacer = new RequestPacer({ maxConcurrency: 4, now: clock.now });
		await slowDownAfter(pacer, clock, 10);

		const started: boolean[] = [];
		for (let i = 0; i < 4; i++) {
			clock.advance(1_000); // each start due under the learned rate
			started.push(!(await stillPending(pacer.acquire())));
		}
		clock.advance(1_000);
		expect(started).toEqual([true, true, true, true]);
		expect(await stillPending(pacer.acquire())).toBe(true);
	});

	it('pauses new callers until Retry-After has passed', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 4 });
		const slot = await pacer.acquire();
		const throttledAt = Date.now();
		slot.throttled(60);
		slot.release();
		await pacer.acquire();
		expect(Date.now()).toBeGreaterThanOrEqual(throttledAt + 60);
	});

	it('pauses callers that were already waiting for a slot', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 1 });
		const slot = await pacer.acquire();
		const waiting = pacer.acquire().then(() => Date.now());
		expect(await stillPending(waiting)).toBe(true);
		const throttledAt = Date.now();
		slot.throttled(60);
		slot.release();
		expect(await waiting).toBeGreaterThanOrEqual(throttledAt + 60);
	});

	it('pauses callers that were already waiting for their rate-spaced start', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 4, maxRequestsPerSecond: 20 }); // 50 ms apart
		const first = await pacer.acquire();
		const second = pacer.acquire().then(() => Date.now()); // due about 50 ms from now
		const throttledAt = Date.now();
		first.throttled(150);
		first.release();
		expect(await second).toBeGreaterThanOrEqual(throttledAt + 150);
	});

	it('pauses for 1 s when the gateway sent no Retry-After', async () => {
		const clock = new FakeClock();
		const pacer = new RequestPacer({ maxConcurrency: 4, now: clock.now });
		const throttledAt = clock.time;
		const slot = await pacer.acquire();
		slot.throttled(undefined);
		slot.release();

		await expectHeldThenFree(pacer, clock, throttledAt + 999, throttledAt + 1_000);
	});

	it('pauses no longer than the retry policy waits for a Retry-After (an hour asked, a minute paused)', async () => {
		const clock = new FakeClock();
		const pacer = new RequestPacer({ maxConcurrency: 4, now: clock.now });
		const throttledAt = clock.time;
		const slot = await pacer.acquire();
		slot.throttled(3_600_000);
		slot.release();

		const cap = RETRY_POLICY.maxRetryAfterMs;
		await expectHeldThenFree(pacer, clock, throttledAt + cap - 1, throttledAt + cap);
	});

	it('does not shorten a pause when a later 429 asks for less', async () => {
		const clock = new FakeClock();
		const pacer = new RequestPacer({ maxConcurrency: 4, now: clock.now });
		const [a, b] = await acquireMany(pacer, 2);
		const throttledAt = clock.time;
		a.throttled(5_000);
		b.throttled(100);
		a.release();
		b.release();

		await expectHeldThenFree(pacer, clock, throttledAt + 4_000, throttledAt + 5_000);
	});
});

describe('RequestPacer: recovery', () => {
	it('raises the learned rate again once a second of successes has passed', async () => {
		const clock = new FakeClock();
		const pacer = new RequestPacer({ maxConcurrency: 20, now: clock.now });
		const slow = await pacer.acquire();
		await succeedMany(pacer, clock, 10);
		const throttledAt = clock.time;
		slow.throttled(0);
		slow.release();
		expect(pacer.currentRateLimit).toBe(9);

		clock.time = throttledAt + 500;
		await succeedMany(pacer, clock, 1);
		expect(pacer.currentRateLimit).toBe(9);

		clock.time = throttledAt + 1_000;
		await succeedMany(pacer, clock, 1);
		expect(pacer.currentRateLimit).toBeGreaterThan(9);
	});

	it('never probes above the rate cap the user chose', async () => {
		const clock = new FakeClock();
		const pacer = new RequestPacer({ maxConcurrency: 20, maxRequestsPerSecond: 2, now: clock.now });
		const first = await pacer.acquire();
		first.throttled(0);
		first.release();
		for (let i = 0; i < 30; i++) {
			clock.advance(2_000);
			const slot = await pacer.acquire();
			slot.succeeded();
			slot.release();
		}
		expect(pacer.currentRateLimit).toBe(2);
	});
});

describe('RequestPacer: cancellation', () => {
	it('rejects at once for a signal that is already aborted, and takes no slot', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 1 });
		const reason = new Error('execution cancelled');
		await expect(pacer.acquire(AbortSignal.abort(reason))).rejects.toBe(reason);
		expect(await stillPending(pacer.acquire())).toBe(false);
	});

	it('rejects a caller waiting for a slot when it aborts, and gives the slot to the next caller', async () => {
		const pacer = new RequestPacer({ maxConcurrency: 1 });
		const holder = await pacer.acquire();
		const abort = new AbortController();
		const cancelled = pacer.acquire(abort.signal);
		const next = pacer.acquire();
		const reason = new Error('stop');
		abort.abort(reason);
		await expect(cancelled).rejects.toBe(reason);
		expect(await stillPending(next)).toBe(true);
		holder.release();
		expect(await stillPending(next)).toBe(false);
	});

	it('frees the slot of a caller that aborts while waiting for its rate-spaced start', async () => {
		const clock = new FakeClock();
		const pacer = new RequestPacer({ maxConcurrency: 1, maxRequestsPerSecond: 1, now: clock.now });
		(await pacer.acquire()).release();
		const abort = new AbortController();
		const spaced = pacer.acquire(abort.signal); // due a (real) second from now
		expect(await stillPending(spaced)).toBe(true);
		abort.abort();
		await expect(spaced).rejects.toBeDefined();

		clock.advance(10_000);
		expect(await stillPending(pacer.acquire())).toBe(false);
	});

	it('rejects a caller waiting out a pause when it aborts', async () => {
		const clock = new FakeClock();
		const pacer = new RequestPacer({ maxConcurrency: 2, now: clock.now });
		const slot = await pacer.acquire();
		slot.throttled(30_000);
		slot.release();
		const abort = new AbortController();
		const paused = pacer.acquire(abort.signal);
		expect(await stillPending(paused)).toBe(true);
		abort.abort();
		await expect(paused).rejects.toBeDefined();

		clock.advance(30_000);
		expect(await stillPending(pacer.acquire())).toBe(false);
	});
});
