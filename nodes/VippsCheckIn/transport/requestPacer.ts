/**
 * Paces the HTTP requests of one node execution: at most Concurrency under way, and a rate
 * learned from what Vipps's gateway says (429 and Retry-After), not from completions.
 *
 * Unpaced until the first 429. A gateway that counts L requests per one-second window, fixed
 * or sliding, refuses only once it has counted L: so at a 429, at least L requests started in
 * the second up to the refused one, and the rate becomes 90 % of those starts, never below
 * 90 % of L. A 429 for a request started before the Retry-After of the latest cut had passed
 * belongs to the burst already cut for: one cut per burst. The rate then climbs 5 % a second
 * while requests succeed. The refused request waits its own Retry-After (retry policy) and the
 * batch goes on, unless Retry-After is longer than a window: then the gateway is closed, not
 * busy, and nothing starts before it opens. The user's Max Requests per Second caps it all. */
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

/** Gateways count per second (and round Retry-After up to whole seconds). */
const WINDOW_MS = 1_000;
/** Just under the limit the gateway proved: a margin for timers that fire late and bunch starts. */
const CUT = 0.9;
/** Per second without a 429: back at the limit about two seconds after a cut, above it only by one window's slack. */
const CLIMB = 1.05;

interface RequestTimes {
	startedAt: number;
	answeredAt?: number;
}

export class RequestPacer {
	private active = 0;
	/** Requests per second; undefined until the gateway first refused. */
	private learnedRate: number | undefined;
	private nextStartAt = 0;
	private heldUntil = 0;
	private sameBurstUntil = -Infinity;
	private climbedAt = 0;
	/** The requests under way, and those answered in the last two windows. */
	private readonly recent: RequestTimes[] = [];
	/** Callers wait their turn in arrival order; only the first in line waits on the clock or a slot. */
	private line: Promise<unknown> = Promise.resolve();
	private wakeFirstInLine: (() => void) | undefined;
	private readonly now: () => number;

	constructor(private readonly options: RequestPacerOptions) {
		this.now = options.now ?? (() => Date.now());
	}

	/** The rate requests start at now, if any (for tests and logs). */
	get currentRateLimit(): number | undefined {
		const cap = this.options.maxRequestsPerSecond;
		return this.learnedRate === undefined ? cap : Math.min(this.learnedRate, cap ?? Infinity);
	}

	/** Waits until a request may start; rejects when `signal` aborts (once the callers ahead have gone). */
	acquire(signal?: AbortSignal): Promise<PacerSlot> {
		const turn = this.line.then(async () => await this.start(signal));
		this.line = turn.catch(() => undefined);
		return turn;
	}

	private async start(signal: AbortSignal | undefined): Promise<PacerSlot> {
		for (;;) {
			signal?.throwIfAborted();
			if (this.active >= this.options.maxConcurrency) {
				await this.nextRelease(signal);
				continue;
			}
			const now = this.now();
			const rate = this.currentRateLimit;
			const startAt = Math.max(this.heldUntil, rate ? this.nextStartAt : 0);
			if (startAt > now) {
				await sleep(startAt - now, signal);
				continue;
			}
			const interval = rate ? 1000 / rate : 0;
			// A timer that fired late keeps the schedule; after a wait for a slot it starts afresh, nothing saved up.
			this.nextStartAt = (now - this.nextStartAt < interval ? this.nextStartAt : now) + interval;
			this.active++;
			const request: RequestTimes = { startedAt: now };
			this.recent.push(request);
			while ((this.recent[0].answeredAt ?? now) <= now - 2 * WINDOW_MS) this.recent.shift();
			return this.slot(request);
		}
	}

	private slot(request: RequestTimes): PacerSlot {
		return {
			release: () => {
				if (request.answeredAt !== undefined) return;
				request.answeredAt = this.now();
				this.active--;
				this.wakeFirstInLine?.();
			},
			throttled: (retryAfterMs) => this.onThrottled(request, retryAfterMs),
			succeeded: () => this.onSucceeded(),
		};
	}

	private onThrottled(request: RequestTimes, retryAfterMs: number | undefined): void {
		const now = this.now();
		const waitMs = Math.min(retryAfterMs ?? WINDOW_MS, RETRY_POLICY.maxRetryAfterMs);
		if (waitMs > WINDOW_MS) this.heldUntil = Math.max(this.heldUntil, now + waitMs);
		if (request.startedAt < this.sameBurstUntil) return;
		// Every request the gateway counted started before the refused one and was under way at some
		// point of the second up to it, however late it left n8n's process: at least the gateway's limit.
		const earlier = this.recent.slice(0, this.recent.indexOf(request) + 1);
		const underWay = earlier.filter((r) => (r.answeredAt ?? now) > request.startedAt - WINDOW_MS).length;
		// Paced, no more than the rate started in that second: any excess is what the count overstates.
		this.learnedRate = CUT * Math.min(this.currentRateLimit ?? Infinity, underWay);
		this.sameBurstUntil = now + Math.max(waitMs, WINDOW_MS);
		this.climbedAt = now;
	}

	private onSucceeded(): void {
		const now = this.now();
		if (this.learnedRate === undefined || now - this.climbedAt < WINDOW_MS) return;
		this.learnedRate *= CLIMB;
		this.climbedAt = now;
	}

	private nextRelease(signal: AbortSignal | undefined): Promise<void> {
		return new Promise<void>((resolve, reject) => {
			const onAbort = () => reject(signal!.reason);
			signal?.addEventListener('abort', onAbort, { once: true });
			this.wakeFirstInLine = () => {
				this.wakeFirstInLine = undefined;
				signal?.removeEventListener('abort', onAbort);
				resolve();
			};
		});
	}
}
