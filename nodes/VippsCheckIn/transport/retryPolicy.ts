/**
 * The retry policy, in one place.
 *
 * Retried (exponential backoff with full jitter, bounded in attempts and in total time):
 * - 429 Too Many Requests: after Retry-After (capped) when the gateway sends it. The whole
 *   batch slows down too (see requestPacer.ts), not just this request.
 * - 502, 503, 504: the gateway or a Vipps service is briefly unavailable.
 * - Connection refused or reset, a timeout before any response arrived, a temporary DNS failure.
 *
 * Not retried: 400 (the request is wrong and stays wrong), 403, 404, and 500 (in the Test
 * environment Check-in always answers 500 by design; in production a 500 is a fault to
 * report, not to repeat); failures that stay failures (host not found, untrusted
 * certificate, invalid URL, blocked by n8n's SSRF protection, anything unknown). A 401 is
 * handled by the token logic: one fresh token per execution, one retry.
 *
 * An answer whose status arrived counts as that status even when its body broke off: a 200
 * means Vipps took the check-in, and it is not sent again. A timeout before any answer may
 * still mean Vipps received it: the retry can then show the check-in screen twice. Check-in
 * moves no money, so showing it again is the safer failure than dropping a check-in.
 */

export const RETRY_POLICY = {
	maxAttempts: 6,
	maxElapsedMs: 120_000,
	baseDelayMs: 250,
	maxBackoffMs: 10_000,
	maxRetryAfterMs: 60_000,
} as const;

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

/** Failures before a complete HTTP answer arrived, as n8n's HTTP helper reports them. */
export type TransportFailureKind =
	| 'connectionRefused'
	| 'connectionReset'
	| 'timeout'
	/** A temporary DNS failure (EAI_AGAIN): the resolver may answer next time. */
	| 'dnsTemporary'
	/** Sending again cannot help: the host does not exist, its certificate is not trusted, the URL is invalid, n8n's SSRF protection refused it… */
	| 'permanent'
	| 'cancelled';

export interface TransportFailure {
	kind: TransportFailureKind;
	/** The most specific error code found (ENOTFOUND, CERT_HAS_EXPIRED, …) or the error's name. */
	code: string;
	/** The description n8n gave (SSRF protection explains itself). */
	description?: string;
}

const TRANSIENT_CODES: Record<string, TransportFailureKind> = {
	ECONNREFUSED: 'connectionRefused',
	ECONNRESET: 'connectionReset',
	EPIPE: 'connectionReset',
	// Axios names a timeout ECONNABORTED (or ETIMEDOUT); a socket that timed out is ETIMEDOUT too.
	ECONNABORTED: 'timeout',
	ETIMEDOUT: 'timeout',
	EAI_AGAIN: 'dnsTemporary',
};

/**
 * What went wrong with a request that got no usable HTTP answer. `error` is what n8n's
 * `httpRequest` threw (an axios error, a TypeError for an invalid URL, n8n's SSRF errors).
 * Anything not known to be transient counts as permanent: it fails at once, named.
 */
export function classifyTransportFailure(error: unknown, signal?: AbortSignal): TransportFailure {
	const { code, name, description } = errorFacts(error);
	if (signal?.aborted || code === 'ERR_CANCELED') return { kind: 'cancelled', code };
	if (/^Ssrf/.test(name)) return { kind: 'permanent', code: name, description };
	return { kind: TRANSIENT_CODES[code] ?? 'permanent', code };
}

/** The first error code on the error or its causes (axios copies the socket's code up; a TypeError keeps it on the cause). */
function errorFacts(error: unknown): { code: string; name: string; description?: string } {
	const top = (error ?? {}) as { code?: unknown; name?: unknown; description?: unknown; cause?: unknown };
	const name = typeof top.name === 'string' ? top.name : 'Error';
	let code: string | undefined;
	for (let current = top, depth = 0; current && typeof current === 'object' && depth < 3; depth++) {
		if (typeof current.code === 'string') {
			code = current.code;
			break;
		}
		current = current.cause as typeof top;
	}
	return { code: code ?? name, name, description: typeof top.description === 'string' ? top.description : undefined };
}

export type AttemptOutcome =
	| { type: 'status'; status: number; retryAfterMs?: number }
	| { type: 'transport'; kind: TransportFailureKind };

export type RetryDecision = { retry: false } | { retry: true; delayMs: number };

export function isRetryable(outcome: AttemptOutcome): boolean {
	if (outcome.type === 'status') return RETRYABLE_STATUS.has(outcome.status);
	return outcome.kind !== 'cancelled' && outcome.kind !== 'permanent';
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
