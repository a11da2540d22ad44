/**
 * The classifier: from one attempt's result (an answer, or a failure with no answer) to the next
 * step, for every request the node makes (the words are explained in index.ts). What decides is
 * whether the attempt may have reached Vipps: a check-in sent twice shows twice on the phone.
 *
 * - `again`: surely not arrived (a refused connection, a connect timeout, a temporary DNS failure),
 *   or a request that notifies nobody (token, QR exchange) after a 5xx, a timeout or a reset.
 * - `againOnce`: a check-in that may have arrived (no answer in time, a reset after the request was
 *   written, 502/503/504): sent again after one such attempt, never after two.
 * - `wait`: a 429; the gateway refused it, so it never arrived. Sent again after Retry-After.
 * - `final`: any other answer (2xx; 3xx, Vipps never redirects; 4xx; a check-in's 500, Test's answer
 *   to every check-in) and failures sending again cannot mend (unknown host, certificate, SSRF).
 */
export const RETRY_POLICY = {
	/** Attempts answered neither 2xx nor 429, before giving up. */
	maxAttempts: 6,
	/** The retry budget of one request, from its first attempt (not from when it was queued). */
	budgetMs: 120_000,
	baseDelayMs: 250,
	maxBackoffMs: 10_000,
	/** How long a 429 without Retry-After waits. */
	defaultRetryAfterMs: 1_000,
} as const;

export type Step = 'final' | 'again' | 'againOnce' | 'wait';

/** An HTTP answer, as the transport keeps it. */
export interface Answer {
	status: number;
	body: string;
	retryAfterMs?: number;
	location?: string;
}

/** No answer: what n8n's HTTP helper threw. */
export interface Failure {
	/** The most specific code (ECONNREFUSED, ENOTFOUND, CERT_HAS_EXPIRED…), the error's name, or ABORTED for a cancel. */
	code: string;
	/** False only when the request surely was not handed whole to the connection. */
	written: boolean;
	/** n8n's own words (its SSRF protection explains itself). */
	description?: string;
}

export type AttemptResult = Answer | Failure;

const NOT_SENT = new Set(['ECONNREFUSED', 'EAI_AGAIN']);
/** Axios names its own timeout ECONNABORTED; a socket that timed out is ETIMEDOUT. */
const NO_ANSWER = new Set(['ECONNABORTED', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'ABORTED']);

/** The one "maybe sent" rule: an attempt that may have reached Vipps without an answer to keep. */
export function mayHaveArrived(result: AttemptResult): boolean {
	if ('status' in result) return result.status >= 502 && result.status <= 504;
	return result.written && NO_ANSWER.has(result.code);
}

export function nextStep(result: AttemptResult, notifiesCustomer: boolean): Step {
	if ('status' in result) {
		if (result.status === 429) return 'wait';
		if (result.status < 500) return 'final';
		if (!notifiesCustomer) return 'again';
		return mayHaveArrived(result) ? 'againOnce' : 'final';
	}
	if (result.code === 'ABORTED') return 'final';
	if (NOT_SENT.has(result.code) || (NO_ANSWER.has(result.code) && !result.written)) return 'again';
	if (NO_ANSWER.has(result.code)) return notifiesCustomer ? 'againOnce' : 'again';
	return 'final';
}

/**
 * `error` is what n8n's `httpRequest` threw (an axios error, a TypeError for an invalid URL, n8n's
 * SSRF errors). Axios keeps the Node request, whose `writableFinished` stays false until the whole
 * request was handed to the connection; without that fact a request counts as written.
 */
export function failureOf(error: unknown, signal?: AbortSignal): Failure {
	type Facts = { code?: unknown; name?: unknown; description?: unknown; cause?: unknown; request?: { writableFinished?: boolean } };
	const top = (error ?? {}) as Facts;
	const name = typeof top.name === 'string' ? top.name : 'Error';
	let code: string | undefined;
	// Axios copies the socket's code up; an invalid URL's TypeError keeps it on the cause.
	for (let at: Facts | undefined = top, depth = 0; at && !code && depth < 3; at = at.cause as Facts, depth++) {
		if (typeof at.code === 'string') code = at.code;
	}
	if (/^Ssrf/.test(name)) code = name;
	if (signal?.aborted || code === 'ERR_CANCELED') code = 'ABORTED';
	const description = typeof top.description === 'string' ? top.description : undefined;
	return { code: code ?? name, written: top.request?.writableFinished !== false, ...(description && /^Ssrf/.test(name) ? { description } : {}) };
}

/** A request's attempts so far. */
export interface Attempts {
	made: number;
	/** Answered neither 2xx nor 429 (a 429 is bounded by the budget alone, so throttling loses no item). */
	failed: number;
	mayHaveArrived: number;
}

/** The wait before the next attempt, or undefined for none. `elapsedMs` counts from the first attempt. */
export function delayBeforeNext(step: Step, attempts: Attempts, elapsedMs: number, retryAfterMs: number | undefined, random = Math.random): number | undefined {
	if (step === 'final' || (step === 'againOnce' && attempts.mayHaveArrived > 1)) return undefined;
	if (step !== 'wait' && attempts.failed >= RETRY_POLICY.maxAttempts) return undefined;
	const delayMs = retryAfterMs ?? (step === 'wait' ? RETRY_POLICY.defaultRetryAfterMs : backoffDelayMs(attempts.failed, random));
	return elapsedMs + delayMs > RETRY_POLICY.budgetMs ? undefined : delayMs;
}

/** Full-jitter exponential backoff: a random delay up to base × 2^(failure-1), capped. */
export function backoffDelayMs(failure: number, random: () => number = Math.random): number {
	return Math.round(random() * Math.min(RETRY_POLICY.maxBackoffMs, RETRY_POLICY.baseDelayMs * 2 ** (failure - 1)));
}

/** The three forms of an HTTP-date, checked before Date.parse reads them (it reads much else besides). */
const HTTP_DATE = [
	/^[a-z]{3}, \d\d (?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec) \d{4} \d\d:\d\d:\d\d GMT$/i, // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
	/^[a-z]{6,9}, \d\d-(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)-\d\d \d\d:\d\d:\d\d GMT$/i, // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
	/^[a-z]{3} (?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec) [ \d]\d \d\d:\d\d:\d\d \d{4}$/i, // asctime, in UTC: Sun Nov  6 08:49:37 1994
];

/** Retry-After (RFC 9110 §10.2.3) as milliseconds from `now`: delay-seconds or an HTTP-date in any of its three forms; 0 or a past date is now. */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
	const text = (Array.isArray(value) ? value[0] : value)?.trim();
	if (!text) return undefined;
	if (/^\d+$/.test(text)) return Number(text) * 1000;
	const form = HTTP_DATE.findIndex((date) => date.test(text));
	const date = form < 0 ? NaN : Date.parse(form === 2 ? `${text} GMT` : text);
	return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
