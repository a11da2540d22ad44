/**
 * The retry policy, in one place. What decides is whether an attempt may have reached Vipps:
 * a check-in sent twice shows twice in the customer's app.
 *
 * - Surely not (`notSent`, `throttled`): the connection was refused or never opened, the request
 *   was not completely written (a connect timeout), a temporary DNS failure, a 429 (the gateway
 *   refused it). Retried after a backoff until `maxAttempts` attempts failed; a 429 waits its
 *   Retry-After (capped, 1 s when absent) and is bounded by `maxElapsedMs` alone, so throttling
 *   loses no item.
 *   A 401 for the token is VippsApiClient's: one fresh token, sent once more.
 * - Perhaps (`maybeSent`): no answer within the timeout, the connection broke off after the
 *   request was sent, 502/503/504. A check-in is sent again after one such attempt, never after
 *   two. The token request and the QR exchange notify nobody: they retry it like `notSent`.
 * - Final: any other answer (2xx; 3xx, since Vipps never redirects; 4xx; 500, Test's answer to
 *   every check-in) even when its body broke off, and failures that sending again cannot mend:
 *   host not found, untrusted certificate, invalid URL, n8n's SSRF protection, anything unknown.
 */
export const RETRY_POLICY = {
	maxAttempts: 6,
	maxElapsedMs: 120_000,
	baseDelayMs: 250,
	maxBackoffMs: 10_000,
	maxRetryAfterMs: 60_000,
	/** How long a 429 without Retry-After waits. */
	defaultRetryAfterMs: 1_000,
} as const;

/** What an attempt means for sending again. */
export interface AttemptOutcome {
	reach: 'notSent' | 'throttled' | 'maybeSent' | 'final';
	/** Retry-After, when the answer had one. */
	retryAfterMs?: number;
}

export function outcomeOfStatus(status: number, retryAfterMs?: number): AttemptOutcome {
	const reach = status === 429 ? 'throttled' : status >= 502 && status <= 504 ? 'maybeSent' : 'final';
	return { reach, retryAfterMs };
}

/** A failure before a complete HTTP answer arrived, as n8n's HTTP helper reports it. */
export interface TransportFailure {
	kind: 'connectionRefused' | 'connectionReset' | 'timeout' | 'dnsTemporary' | 'permanent' | 'cancelled';
	reach: AttemptOutcome['reach'];
	/** The most specific error code found (ENOTFOUND, CERT_HAS_EXPIRED, …) or the error's name. */
	code: string;
	/** The description n8n gave (SSRF protection explains itself). */
	description?: string;
}

const TRANSIENT_CODES: Record<string, TransportFailure['kind']> = {
	ECONNREFUSED: 'connectionRefused',
	ECONNRESET: 'connectionReset',
	EPIPE: 'connectionReset',
	// Axios names its own timeout ECONNABORTED; a socket that timed out is ETIMEDOUT.
	ECONNABORTED: 'timeout',
	ETIMEDOUT: 'timeout',
	EAI_AGAIN: 'dnsTemporary',
};

/**
 * `error` is what n8n's `httpRequest` threw (an axios error, a TypeError for an invalid URL,
 * n8n's SSRF errors). Axios keeps the Node request on it, whose `writableFinished` stays false
 * until the whole request was handed to the connection: then it cannot have arrived (a connect
 * timeout, a refusal). Without that fact, a timeout or a reset may have arrived.
 */
export function classifyTransportFailure(error: unknown, signal?: AbortSignal): TransportFailure {
	type Facts = { code?: unknown; name?: unknown; description?: unknown; cause?: unknown; request?: { writableFinished?: boolean } };
	const top = (error ?? {}) as Facts;
	const name = typeof top.name === 'string' ? top.name : 'Error';
	// The first code on the error or its causes (axios copies the socket's up; an invalid URL's TypeError keeps it on the cause).
	let code: string | undefined;
	for (let current: Facts | undefined = top, depth = 0; current && !code && depth < 3; current = current.cause as Facts, depth++) {
		if (typeof current.code === 'string') code = current.code;
	}
	code ??= name;
	if (signal?.aborted || code === 'ERR_CANCELED') return { kind: 'cancelled', reach: 'final', code };
	if (/^Ssrf/.test(name)) return { kind: 'permanent', reach: 'final', code: name, description: typeof top.description === 'string' ? top.description : undefined };
	const kind = TRANSIENT_CODES[code] ?? 'permanent';
	const mayHaveArrived = top.request?.writableFinished !== false && (kind === 'timeout' || kind === 'connectionReset');
	return { kind, reach: kind === 'permanent' ? 'final' : mayHaveArrived ? 'maybeSent' : 'notSent', code };
}

/** The attempts of one request so far. */
export interface AttemptTally {
	attempts: number;
	/** Attempts that failed other than by a 429: what `maxAttempts` counts. */
	failures: number;
	/** Attempts that may have reached Vipps without an answer to keep. */
	maybeSent: number;
}

export function tallyAttempt(tally: AttemptTally, { reach }: AttemptOutcome): AttemptTally {
	return {
		attempts: tally.attempts + 1,
		failures: tally.failures + (reach === 'notSent' || reach === 'maybeSent' ? 1 : 0),
		maybeSent: tally.maybeSent + (reach === 'maybeSent' ? 1 : 0),
	};
}

/**
 * The wait before the next attempt after the one just tallied, or undefined for none. For a
 * request that `notifiesCustomer` (a check-in), a second attempt that may have arrived is the last.
 */
export function decideRetry(outcome: AttemptOutcome, tally: AttemptTally, elapsedMs: number, notifiesCustomer: boolean, random = Math.random): number | undefined {
	const { reach, retryAfterMs } = outcome;
	if (reach === 'final' || (notifiesCustomer && reach === 'maybeSent' && tally.maybeSent > 1)) return undefined;
	if (reach !== 'throttled' && tally.failures >= RETRY_POLICY.maxAttempts) return undefined;
	const delayMs =
		retryAfterMs !== undefined || reach === 'throttled'
			? Math.min(retryAfterMs ?? RETRY_POLICY.defaultRetryAfterMs, RETRY_POLICY.maxRetryAfterMs)
			: backoffDelayMs(tally.failures, random);
	return elapsedMs + delayMs > RETRY_POLICY.maxElapsedMs ? undefined : delayMs;
}

/** Full-jitter exponential backoff: a random delay up to base × 2^(failure-1), capped. */
export function backoffDelayMs(failure: number, random: () => number = Math.random): number {
	const ceiling = Math.min(RETRY_POLICY.maxBackoffMs, RETRY_POLICY.baseDelayMs * 2 ** (failure - 1));
	return Math.round(random() * ceiling);
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
