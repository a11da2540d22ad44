import type { GatewayOptions } from './gateway';

export interface SimulatorKeys {
	clientId: string;
	clientSecret: string;
	subscriptionKey: string;
}

export type Environment = 'production' | 'test';

/** The three 200 shapes a check-in client meets in the wild (see NOTES §2). */
export type CheckInResponseStyle = 'jsonString' | 'object' | 'rawText';

/** How a registered personal QR code exchanges. */
export interface PersonalQrCode {
	msisdn: string;
	/**
	 * Answered as `timestamp` instead of the clock's unix seconds, whatever it is: the contract
	 * says integer, a test may need a numeric string or an out-of-range number.
	 */
	timestamp?: unknown;
}

export interface SimulatorOptions {
	/** Default '127.0.0.1' (loopback only). */
	host?: string;
	/** Default 0: pick a free port. */
	port?: number;
	/** Serve HTTPS with a self-signed certificate made at start (see `caCertPath`). Default false. */
	https?: boolean;
	/** Default DEFAULT_SIMULATOR_KEYS. */
	keys?: SimulatorKeys;
	/** Default 3600; sent as expires_in, and tokens really stop working after it. */
	tokenLifetimeSeconds?: number;
	/** Added to every response. Default 0. */
	latencyMs?: number;
	/**
	 * Optional Azure API Management rate limit over all requests, counted in a sliding
	 * one-second window (default) or in fixed windows on the clock's whole seconds; its 429
	 * comes at once (default) or after the latency.
	 */
	gateway?: GatewayOptions;
	/** 'test' mimics the Merchant Test environment, where check-in always answers 500. Default 'production'. */
	environment?: Environment;
	/** How a successful check-in id is written. Default 'jsonString'. */
	checkInResponseStyle?: CheckInResponseStyle;
	/** Clock in epoch milliseconds, so tests can move time (token expiry, rate window) without sleeping. Default Date.now. */
	now?: () => number;
	/** Called once the simulator has decided how to answer a request (its status is final). */
	onRequest?: (recorded: RecordedRequest) => void;
}

/**
 * How a Retry-After header is written (RFC 9110 §10.2.3, §5.6.7): delay-seconds, or an HTTP date
 * in one of its three forms, which a recipient must all accept. A date is the simulator's clock
 * plus the seconds, rounded up to a whole second (so the wait asked is never shorter).
 */
export type RetryAfterForm = 'delta-seconds' | 'imf-fixdate' | 'rfc850' | 'asctime';

export type Fault =
	| { kind: 'latency'; ms: number }
	| {
			kind: 'status';
			status: 429 | 500 | 502 | 503 | 504;
			retryAfterSeconds?: number;
			/** How `retryAfterSeconds` is written. Default 'delta-seconds'. */
			retryAfterForm?: RetryAfterForm;
	  }
	/** 400 in the check-in API's RFC 7807 shape, as Vipps answers a field it refuses. */
	| { kind: 'badRequest'; invalidParams: Array<{ name: string; reason: string }> }
	| { kind: 'expiredToken' }
	/** A redirect to another address, as a wrong or hostile base URL answers (Vipps itself never redirects). */
	| { kind: 'redirect'; status: 301 | 302 | 303 | 307 | 308; location: string }
	/** The whole request is read (and recorded), then the connection is reset: it may have been processed. */
	| { kind: 'reset' }
	/**
	 * The gateway read the request and reset the connection without passing it on: the API never
	 * saw it. A client cannot tell it from `reset` (a small request is written before any reset
	 * comes back); the log can. For a reset before a single byte is read, see `refuseConnections`.
	 */
	| { kind: 'dropped' }
	/** Recorded, never answered; with `ms`, the connection is reset after that long instead (a client that waits longer still gets no answer). */
	| { kind: 'hang'; ms?: number }
	/**
	 * Status and headers, then half of the body, which then stalls (`end: 'hang'`, the default) or
	 * breaks off: the server closes the connection (`end: 'close'`). Default status 200, the check-in's success body;
	 * another status sends an error body of its kind.
	 */
	| { kind: 'partialBody'; status?: 200 | 400 | 500 | 503; end?: 'hang' | 'close' }
	| { kind: 'malformedJson' };

export interface FaultRule {
	fault: Fault;
	/** Exact request path, e.g. '/point-of-sale/v1/loyalty-check-in'. */
	path?: string;
	/** Matches the phoneNumber of a check-in body. */
	phoneNumber?: string;
	/** How many matching requests the rule applies to. Default 1; Infinity allowed. */
	times?: number;
}

export interface RecordedRequest {
	seq: number;
	/** Epoch milliseconds by the simulator's clock. */
	receivedAt: number;
	method: string;
	/** Path without the query string. */
	path: string;
	/** Lower-cased header names; secret values replaced by '[redacted]' (the header stays present). */
	headers: Record<string, string>;
	/** The parsed JSON body, undefined when the body is empty or not JSON. */
	body: unknown;
	rawBody: string;
	/** The status answered; 0 when no status line was sent (reset, dropped, hang). */
	status: number;
	fault?: Fault['kind'];
}
