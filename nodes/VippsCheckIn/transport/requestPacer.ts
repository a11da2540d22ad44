/**
 * One pacer per credential target per n8n process (pacerFor), shared by every execution: the
 * gateway counts per key, so one-event-at-a-time webhooks learn from each other. It sets the rate
 * (Concurrency is each execution's own), learned from the gateway's 429s, not from completions.
 *
 * Unpaced until the first 429. A gateway that counts L requests per one-second window, fixed or
 * sliding, refuses only once it has counted L: so at a 429, at least L requests were under way in
 * the second up to the refused one, and the rate becomes 90 % of those.
 * They are the requests started before it, and those answered before its 429 came back: over TLS
 * on a busy machine a request started early can reach the gateway late, after many started behind it. A 429 for a request
 * started before the Retry-After of the latest cut had passed belongs to the burst already cut
 * for: one cut per burst. The rate then climbs 5 % a second while requests succeed. A Retry-After
 * longer than a window means closed, not busy: nothing starts before it ends, and a caller whose
 * deadline comes first is told at once (GatewayClosed) instead of being sent into it. A caller's
 * own cap (Max Requests per Second) spaces its requests before they join the shared line.
 */
import { sleep } from 'n8n-workflow';

import type { VippsCredentials } from '../helpers/vippsCredentials';
import { RETRY_POLICY } from './retryPolicy';
import { remember, targetOf } from './targets';

/** Gateways count per second (and round Retry-After up to whole seconds). */
const WINDOW_MS = 1_000;
/** Just under the limit the gateway proved: a margin for timers that fire late and bunch starts. */
const CUT = 0.9;
/** Per second without a 429: back at the limit about two seconds after a cut. */
const CLIMB = 1.05;

/** A caller's own rate cap: its requests start at most `perSecond` a second. */
export type RateCap = { perSecond: number; nextStartAt: number };
/** `deadline`: the caller gives up then, so a gateway closed beyond it fails the call now. */
export type RunOptions = { signal?: AbortSignal; cap?: RateCap; deadline?: number };
type Started = { startedAt: number; answeredAt?: number };

/** The gateway is closed until `until` (ms since the epoch), beyond the caller's deadline. */
export class GatewayClosed extends Error {
	constructor(readonly until: number) {
		super(`The gateway is closed until ${new Date(until).toISOString()}`);
	}
}

export class RequestPacer {
	/** Requests per second; undefined until the gateway first refused. */
	private learnedRate: number | undefined;
	private nextStartAt = 0;
	private heldUntil = 0;
	private sameBurstUntil = -Infinity;
	private climbedAt = 0;
	/** The requests under way, and those answered in the last two windows. */
	private readonly recent: Started[] = [];
	/** Callers wait their turn in arrival order; only the first in line waits on the clock. */
	private line: Promise<unknown> = Promise.resolve();

	constructor(private readonly now: () => number = () => Date.now()) {}

	/** The learned rate, if any (for tests). */
	get rate(): number | undefined {
		return this.learnedRate;
	}

	/** Starts `send` when the rate allows, and learns from its answer (`status`, `retryAfterMs`). */
	async run<T extends object>(send: () => Promise<T>, options: RunOptions = {}): Promise<T> {
		const { cap, signal } = options;
		if (cap) {
			const now = this.now();
			const at = Math.max(now, cap.nextStartAt);
			cap.nextStartAt = at + 1000 / cap.perSecond;
			if (at > now) await sleep(at - now, signal);
		}
		const request = await this.inLine(options);
		try {
			const answer = (await send()) as { status?: number; retryAfterMs?: number };
			if (answer.status === 429) this.throttled(request, answer.retryAfterMs);
			else if (answer.status !== undefined && answer.status < 400) this.succeeded();
			return answer as T;
		} finally {
			request.answeredAt = this.now();
		}
	}

	private async inLine({ signal, deadline }: RunOptions): Promise<Started> {
		const turn = this.line.then(async () => {
			for (;;) {
				signal?.throwIfAborted();
				const now = this.now();
				if (deadline !== undefined && this.heldUntil > deadline) throw new GatewayClosed(this.heldUntil);
				const interval = this.learnedRate ? 1000 / this.learnedRate : 0;
				const startAt = Math.max(this.heldUntil, this.nextStartAt);
				if (startAt > now) {
					await sleep(startAt - now, signal);
					continue;
				}
				// A timer that fired late keeps the schedule; after a quiet spell it starts afresh, nothing saved up.
				this.nextStartAt = (now - this.nextStartAt < interval ? this.nextStartAt : now) + interval;
				const request: Started = { startedAt: now };
				this.recent.push(request);
				while ((this.recent[0].answeredAt ?? now) <= now - 2 * WINDOW_MS) this.recent.shift();
				return request;
			}
		});
		this.line = turn.catch(() => undefined);
		return await turn;
	}

	private throttled(request: Started, retryAfterMs: number | undefined): void {
		const now = this.now();
		const waitMs = retryAfterMs ?? RETRY_POLICY.defaultRetryAfterMs;
		if (waitMs > WINDOW_MS) this.heldUntil = Math.max(this.heldUntil, now + waitMs);
		if (request.startedAt < this.sameBurstUntil) return;
		// Every request the gateway counted before the refused one was under way at some point of the
		// second up to it, however late it left n8n's process, and started before it or was answered
		// by now: at least the gateway's limit. (Unanswered ones started after it may not have arrived.)
		const position = this.recent.indexOf(request);
		const counted = this.recent.filter((r, i) => i <= position || r.answeredAt !== undefined);
		const underWay = counted.filter((r) => (r.answeredAt ?? now) > request.startedAt - WINDOW_MS).length;
		// Paced, no more than the rate started in that second: any excess is what the count overstates.
		this.learnedRate = CUT * Math.min(this.learnedRate ?? Infinity, underWay);
		this.sameBurstUntil = now + Math.max(waitMs, WINDOW_MS);
		this.climbedAt = now;
	}

	private succeeded(): void {
		const now = this.now();
		if (this.learnedRate === undefined || now - this.climbedAt < WINDOW_MS) return;
		this.learnedRate *= CLIMB;
		this.climbedAt = now;
	}
}

const pacers = new Map<string, RequestPacer>();

/** The pacer of `credentials`' target in this process. */
export function pacerFor(credentials: VippsCredentials): RequestPacer {
	const target = targetOf(credentials);
	return remember(pacers, target, pacers.get(target) ?? new RequestPacer());
}
