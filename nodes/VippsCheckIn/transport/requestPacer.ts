/**
 * Paces every HTTP request of one node execution: a concurrency limit, an optional rate cap,
 * and a shared pause when Vipps's gateway throttles.
 *
 * On a 429 the whole batch slows down, not only the request that got it:
 * - everyone waits out Retry-After (the pause), capped as the retry policy caps it,
 * - the rate is capped at 90 % of the gateway's apparent limit: what it let through in the last
 *   second (since the latest pause, if that ended sooner), but never more than the rate the batch
 *   was paced at when the 429 came, since that rate proved too high; 90 % of that if it was
 *   refused within two seconds of the pause, as it then filled a fresh window. (A gateway counting
 *   fixed one-second windows lets up to twice its limit through across a window boundary, and
 *   timers firing late bunch paced requests, so what got through can overstate the limit.)
 * - then the rate climbs back to 95 % of the apparent limit; only after a quiet half minute does
 *   it probe above it, so a steady gateway limit costs one pause, not one per probe.
 * A 429 from a request that started before the latest slowdown is the same burst, and is
 * not counted again. The rate alone brings the batch under the gateway's limit: the number of
 * requests in flight stays as the user set it.
 */
import { sleep } from 'n8n-workflow';

import { RETRY_POLICY } from './retryPolicy';

export interface RequestPacerOptions {
	maxConcurrency: number;
	/** A rate cap the user chose; the pacer never goes above it. */
	maxRequestsPerSecond?: number;
	now?: () => number;
}

export interface PacerSlot {
	/** Call once when the response (or the failure) arrived. */
	release(): void;
	/** The request was answered 429; `retryAfterMs` as the gateway asked. */
	throttled(retryAfterMs: number | undefined): void;
	succeeded(): void;
}

const RATE_WINDOW_MS = 1_000;
/** After a slowdown, go a little below the apparent limit. */
const RATE_BACKOFF_FACTOR = 0.9;
/** Where the rate settles between slowdowns, relative to the gateway's apparent limit. */
const RATE_CRUISE_FACTOR = 0.95;
/** Quiet time before probing above the apparent limit (a limit may have been raised). */
const PROBE_AFTER_MS = 30_000;
/** A 429 without Retry-After still pauses the batch this long. */
const DEFAULT_PAUSE_MS = 1_000;

export class RequestPacer {
	private active = 0;
	private learnedRate: number | undefined;
	private apparentLimit = 0;
	private pausedUntil = 0;
	private nextStartAt = 0;
	private slowdowns = 0;
	private rateRaisedAt = 0;
	private readonly recentSuccesses: number[] = [];
	private readonly releaseWaiters = new Set<() => void>();
	private readonly now: () => number;

	constructor(private readonly options: RequestPacerOptions) {
		this.now = options.now ?? (() => Date.now());
	}

	/** The rate requests start at now, if any (for tests and logs). */
	get currentRateLimit(): number | undefined {
		const caps = [this.options.maxRequestsPerSecond, this.learnedRate].filter((v): v is number => v !== undefined);
		return caps.length ? Math.min(...caps) : undefined;
	}

	/** Waits until a request may start; rejects when `signal` aborts. */
	async acquire(signal?: AbortSignal): Promise<PacerSlot> {
		for (;;) {
			signal?.throwIfAborted();
			const now = this.now();
			if (now < this.pausedUntil) {
				await sleep(this.pausedUntil - now, signal);
				continue;
			}
			if (this.active >= this.options.maxConcurrency) {
				await this.nextRelease(signal);
				continue;
			}
			const startAt = this.reserveStart(now);
			this.active++;
			if (startAt > now) {
				let waited = false;
				try {
					await sleep(startAt - now, signal);
					waited = true;
				} finally {
					// Aborted while waiting for its turn: the slot was never used.
					if (!waited) this.releaseOne();
				}
				// A 429 may have paused the batch while this caller waited for its turn.
				if (this.now() < this.pausedUntil) {
					this.releaseOne();
					continue;
				}
			}
			return this.slot(this.slowdowns);
		}
	}

	private slot(slowdownsAtStart: number): PacerSlot {
		let released = false;
		return {
			release: () => {
				if (released) return;
				released = true;
				this.releaseOne();
			},
			throttled: (retryAfterMs) => this.onThrottled(slowdownsAtStart, retryAfterMs),
			succeeded: () => this.onSuccess(),
		};
	}

	private reserveStart(now: number): number {
		const rate = this.currentRateLimit;
		if (!rate) return now;
		const startAt = Math.max(now, this.nextStartAt);
		this.nextStartAt = startAt + 1000 / rate;
		return startAt;
	}

	/** Successes within the last second: what the gateway let through. */
	private noteSuccess(now: number): void {
		this.recentSuccesses.push(now);
		while (this.recentSuccesses[0] <= now - RATE_WINDOW_MS) this.recentSuccesses.shift();
	}

	private onThrottled(slowdownsAtStart: number, retryAfterMs: number | undefined): void {
		const now = this.now();
		const lastPauseEnded = this.pausedUntil;
		const pauseMs = Math.min(retryAfterMs ?? DEFAULT_PAUSE_MS, RETRY_POLICY.maxRetryAfterMs);
		this.pausedUntil = Math.max(this.pausedUntil, now + pauseMs);
		if (slowdownsAtStart !== this.slowdowns) return;
		this.slowdowns++;
		// The gateway's count started afresh during the latest pause: what came back before it ended does not count.
		const countFrom = Math.max(now - RATE_WINDOW_MS + 1, lastPauseEnded);
		const gotThrough = this.recentSuccesses.filter((t) => t >= countFrom).length;
		const pacedAt = this.currentRateLimit;
		let limit = Math.min(gotThrough, pacedAt ?? Infinity);
		// Refused within two windows of the pause: that rate filled a fresh window, so it is well above the limit.
		if (pacedAt !== undefined && now - lastPauseEnded < 2 * RATE_WINDOW_MS) limit *= RATE_BACKOFF_FACTOR;
		this.apparentLimit = Math.max(1, limit);
		this.learnedRate = Math.max(1, Math.floor(this.apparentLimit * RATE_BACKOFF_FACTOR));
		this.nextStartAt = this.pausedUntil;
		this.rateRaisedAt = this.pausedUntil;
	}

	private onSuccess(): void {
		const now = this.now();
		this.noteSuccess(now);
		if (this.learnedRate !== undefined && now - this.rateRaisedAt >= RATE_WINDOW_MS) {
			this.learnedRate = this.nextRate(this.learnedRate, now);
			this.rateRaisedAt = now;
		}
	}

	/** Once a second without a 429: back up to cruising speed quickly, then probe gently. */
	private nextRate(rate: number, now: number): number {
		const cruise = this.apparentLimit * RATE_CRUISE_FACTOR;
		if (rate < cruise) return Math.min(cruise, rate * 1.25);
		return now - this.pausedUntil >= PROBE_AFTER_MS ? rate * 1.05 : rate;
	}

	private releaseOne(): void {
		this.active--;
		const waiters = [...this.releaseWaiters];
		this.releaseWaiters.clear();
		for (const wake of waiters) wake();
	}

	private nextRelease(signal?: AbortSignal): Promise<void> {
		return new Promise<void>((resolve, reject) => {
			const onAbort = () => {
				this.releaseWaiters.delete(wake);
				reject(signal!.reason);
			};
			const wake = () => {
				signal?.removeEventListener('abort', onAbort);
				resolve();
			};
			this.releaseWaiters.add(wake);
			signal?.addEventListener('abort', onAbort, { once: true });
		});
	}
}
