/**
 * The retry policy, in one place.
 *
 * Retried (exponential backoff with full jitter, bounded in attempts and in total time):
 * - 429 Too Many Requests: after Retry-After (capped) when the gateway sends it. The whole
 *   batch slows down too (see requestPacer.ts), not just this request.
 * - 502, 503, 504: the gateway or a Vipps service is briefly unavailable.
 * - Connection refused or reset, and a timeout before any response arrived.
 *
 * Not retried: 400 (the request is wrong and stays wrong), 403, 404, and 500 (in the Test
 * environment Check-in always answers 500 by design; in production a 500 is a fault to
 * report, not to repeat). A 401 is handled by the token logic: one fresh token, one retry.
 *
 * A timeout after the request was sent may mean Vipps did receive it: the retry can then
 * show the check-in screen twice. Check-in moves no money, so showing it again is the safer
 * failure than dropping a customer's check-in.
 */

export const RETRY_POLICY = {
	maxAttempts: 6,
	maxElapsedMs: 120_000,
	baseDelayMs: 250,
	maxBackoffMs: 10_000,
	maxRetryAfterMs: 60_000,
} as const;

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

/** Failures of the connection itself, before an HTTP status arrived. */
export type TransportFailureKind =
	| 'connectionRefused'
	| 'connectionReset'
	| 'timeoutBeforeResponse'
	| 'timeoutDuringResponse'
	| 'network'
	/** The client refused to send it (e.g. an invalid header value): sending again cannot help. */
	| 'invalidRequest'
	| 'cancelled';

export type AttemptOutcome =
	| { type: 'status'; status: number; retryAfterMs?: number }
	| { type: 'transport'; kind: TransportFailureKind };

export type RetryDecision = { retry: false } | { retry: true; delayMs: number };

export function isRetryable(outcome: AttemptOutcome): boolean {
	if (outcome.type === 'status') return RETRYABLE_STATUS.has(outcome.status);
	return outcome.kind !== 'cancelled' && outcome.kind !== 'invalidRequest';
}

/** Full-jitter exponential backoff: a random delay up to base × 2^(attempt-1), capped. */
export function backoffDelayMs(attempt: number, random: () => number = Math.random): number {
	const ceiling = Math.min(RETRY_POLICY.maxBackoffMs, RETRY_POLICY.baseDelayMs * 2 ** (attempt - 1));
	return Math.round(random() * ceiling);
}

/**
 * Decides whether attempt number `attempt` (1-based) is followed by another, and after how
 * long. `elapsedMs` is the time since the first attempt started.
 */
export function decideRetry(
	outcome: AttemptOutcome,
	attempt: number,
	elapsedMs: number,
	random: () => number = Math.random,
): RetryDecision {
	if (!isRetryable(outcome) || attempt >= RETRY_POLICY.maxAttempts) return { retry: false };
	const retryAfterMs = outcome.type === 'status' ? outcome.retryAfterMs : undefined;
	const delayMs =
		retryAfterMs !== undefined ? Math.min(retryAfterMs, RETRY_POLICY.maxRetryAfterMs) : backoffDelayMs(attempt, random);
	if (elapsedMs + delayMs > RETRY_POLICY.maxElapsedMs) return { retry: false };
	return { retry: true, delayMs };
}

/** Retry-After is either delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
	const text = Array.isArray(value) ? value[0] : value;
	if (!text) return undefined;
	if (/^\s*\d+\s*$/.test(text)) return Number(text) * 1000;
	// Only a real HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT"): Date.parse also reads "1.5" as a year-2001 date.
	if (!/GMT\s*$/.test(text)) return undefined;
	const date = Date.parse(text);
	return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
