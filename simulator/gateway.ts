import { emptyReply, type Reply } from './http';

// Vipps runs its APIs behind Azure API Management: these are the gateway's own answers, which come
// before (and look nothing like) the APIs' answers.

const SUBSCRIPTION_KEY_HEADER = 'ocp-apim-subscription-key';

export function gatewayError(status: number, message: string, headers: Record<string, string> = {}): Reply {
	return {
		status,
		headers: { 'Content-Type': 'application/json', ...headers },
		body: JSON.stringify({ statusCode: status, message }),
	};
}

export function checkSubscriptionKey(headers: Record<string, string>, expectedKey: string): Reply | undefined {
	const key = headers[SUBSCRIPTION_KEY_HEADER];
	if (key === undefined) {
		return gatewayError(
			401,
			'Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.',
		);
	}
	if (key !== expectedKey) {
		return gatewayError(
			401,
			'Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.',
		);
	}
	return undefined;
}

/**
 * The gateway's 429. Retry-After is sent only when known, as a test may want to see a 429 without
 * it; `retryAfterHeader` writes it in another form than delay-seconds (an HTTP date).
 */
export function rateLimited(retryAfterSeconds: number | undefined, retryAfterHeader = String(retryAfterSeconds)): Reply {
	const headers: Record<string, string> = retryAfterSeconds === undefined ? {} : { 'Retry-After': retryAfterHeader };
	return gatewayError(429, `Rate limit is exceeded. Try again in ${retryAfterSeconds ?? 1} seconds.`, headers);
}

export function resourceNotFound(): Reply {
	return gatewayError(404, 'Resource not found');
}

export function methodNotAllowed(): Reply {
	return emptyReply(405, { Allow: 'POST' });
}

export type Admission = { admitted: true } | { admitted: false; retryAfterSeconds: number };

/** How the gateway counts requests per second. */
export type GatewayWindow = 'sliding' | 'fixed';

/**
 * When the gateway's 429 leaves: 'instant' (API Management refuses at the gateway, before the
 * backend is called, so the refusal does not wait for its latency), or 'after-latency'.
 */
export type GatewayThrottle = 'instant' | 'after-latency';

export interface GatewayOptions {
	requestsPerSecond: number;
	/** Default 'sliding'. */
	window?: GatewayWindow;
	/** Default 'instant'. */
	throttle?: GatewayThrottle;
}

export interface GatewayLimiter {
	tryAdmit(nowMs: number): Admission;
}

export function gatewayLimiter(requestsPerSecond: number, window: GatewayWindow): GatewayLimiter {
	if (!Number.isInteger(requestsPerSecond) || requestsPerSecond < 1) {
		throw new RangeError(`requestsPerSecond must be a whole number of at least 1, got ${requestsPerSecond}`);
	}
	if (window === 'sliding') return new SlidingWindowLimiter(requestsPerSecond);
	if (window === 'fixed') return new FixedWindowLimiter(requestsPerSecond);
	throw new RangeError(`the gateway window is 'sliding' or 'fixed', got '${String(window)}'`);
}

/** Retry-After in whole seconds, rounded up, as API Management sends it: never 0. */
function wholeSecondsUntil(ms: number): number {
	return Math.max(1, Math.ceil(ms / 1000));
}

/** A sliding one-second window over all admitted requests, like API Management's rate-limit policy. */
class SlidingWindowLimiter implements GatewayLimiter {
	private admittedAt: number[] = [];

	constructor(private readonly requestsPerSecond: number) {}

	tryAdmit(nowMs: number): Admission {
		this.admittedAt = this.admittedAt.filter((at) => at > nowMs - 1000);
		if (this.admittedAt.length < this.requestsPerSecond) {
			this.admittedAt.push(nowMs);
			return { admitted: true };
		}
		// The oldest admission in the window is the next to leave it.
		return { admitted: false, retryAfterSeconds: wholeSecondsUntil(this.admittedAt[0] + 1000 - nowMs) };
	}
}

/**
 * Fixed one-second windows on the clock's whole seconds: the count starts again at every
 * second, so a client can get up to twice the limit through within one second across a
 * boundary, and a refused request is told to wait a whole second even when the window ends
 * a few milliseconds later (Retry-After is rounded up).
 */
class FixedWindowLimiter implements GatewayLimiter {
	private windowStart = -Infinity;
	private admitted = 0;

	constructor(private readonly requestsPerSecond: number) {}

	tryAdmit(nowMs: number): Admission {
		const windowStart = Math.floor(nowMs / 1000) * 1000;
		if (windowStart !== this.windowStart) {
			this.windowStart = windowStart;
			this.admitted = 0;
		}
		if (this.admitted < this.requestsPerSecond) {
			this.admitted++;
			return { admitted: true };
		}
		return { admitted: false, retryAfterSeconds: wholeSecondsUntil(windowStart + 1000 - nowMs) };
	}
}
