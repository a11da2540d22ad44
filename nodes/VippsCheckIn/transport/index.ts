/**
 * The one door to the Vipps MobilePay API: headers, access tokens, pacing, retries and error
 * translation for every call the node makes. Operations call VippsApiClient and nothing below it.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';

import { AccessTokenCache, type AccessTokenGrant } from './accessTokenCache';
import { HttpTransportError, sendHttpRequest, type HttpRequest, type HttpResponse } from './httpClient';
import type { RequestPacer } from './requestPacer';
import { decideRetry, parseRetryAfter, type AttemptOutcome } from './retryPolicy';
import { USER_AGENT, type VippsCredentials } from './vippsCredentials';
import {
	VippsError,
	cancelledError,
	explainApiFailure,
	explainTokenFailure,
	explainTransportFailure,
	parseJsonBody,
	redactSecrets,
} from './vippsErrors';

/** Paths below the environment's base URL. */
export const VIPPS_PATHS = {
	accessToken: 'accesstoken/get',
	loyaltyCheckIn: 'point-of-sale/v1/loyalty-check-in',
	qrExchange: 'qr/v1/exchange',
} as const;

function vippsUrl(credentials: VippsCredentials, path: string): string {
	return `${credentials.baseUrl}/${path}`;
}

/** The token request is shared by many callers, so it has its own fixed timeout. */
const TOKEN_REQUEST_TIMEOUT_MS = 30_000;
const REDACTED = '[redacted]';

/** Vipps sends every value as a string, numbers included. */
const accessTokenResponseSchema = z.object({
	access_token: z.string().min(1),
	expires_in: z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(Number),
	token_type: z.string().optional(),
});

/** POST /accesstoken/get, uncached: the cache below and the credential test call it. */
export async function requestAccessToken(credentials: VippsCredentials): Promise<AccessTokenGrant> {
	const url = vippsUrl(credentials, VIPPS_PATHS.accessToken);
	const headers = {
		client_id: credentials.clientId,
		client_secret: credentials.clientSecret,
		...commonHeaders(credentials, credentials.merchantSerialNumber),
	};
	const { response, attempts } = await sendWithRetries(
		{ method: 'POST', url, headers, timeoutMs: TOKEN_REQUEST_TIMEOUT_MS },
		'the access token request',
	);
	if (response.status !== 200) {
		throw explainTokenFailure(response.status, parseJsonBody(response.body), credentials.baseUrl, attempts);
	}
	const parsed = accessTokenResponseSchema.safeParse(parseJsonBody(response.body));
	if (!parsed.success) {
		throw new VippsError(`${credentials.baseUrl} answered the access token request with an unexpected body`, {
			description:
				"Expected JSON with access_token and expires_in. Check the credential's Environment or Custom Base URL: it should point at a Vipps API.",
			httpCode: '200',
		});
	}
	return { accessToken: parsed.data.access_token, expiresInSeconds: parsed.data.expires_in };
}

/** One cache for the whole n8n process: tokens outlive a single execution. */
export const accessTokenCache = new AccessTokenCache(requestAccessToken);

function commonHeaders(credentials: VippsCredentials, merchantSerialNumber: string | undefined): Record<string, string> {
	return {
		'Ocp-Apim-Subscription-Key': credentials.subscriptionKey,
		// An empty MSN header is invalid: leave it out when there is none.
		...(merchantSerialNumber ? { 'Merchant-Serial-Number': merchantSerialNumber } : {}),
		...credentials.systemHeaders,
		'User-Agent': USER_AGENT,
	};
}

interface RetriedResponse {
	response: HttpResponse;
	attempts: number;
}

interface RetryRequest extends HttpRequest {
	pacer?: RequestPacer;
}

/** Sends one request under the retry policy (retryPolicy.ts) and the batch's pacer. */
async function sendWithRetries(req: RetryRequest, what: string): Promise<RetriedResponse> {
	const startedAt = Date.now();
	for (let attempt = 1; ; attempt++) {
		const result = await attemptOnce(req);
		if ('failure' in result && result.failure.kind === 'cancelled') {
			throw explainTransportFailure(result.failure, what, req.timeoutMs, attempt);
		}
		const outcome: AttemptOutcome =
			'response' in result
				? { type: 'status', status: result.response.status, retryAfterMs: result.retryAfterMs }
				: { type: 'transport', kind: result.failure.kind };
		const decision = decideRetry(outcome, attempt, Date.now() - startedAt);
		if (!decision.retry) {
			if ('response' in result) return { response: result.response, attempts: attempt };
			throw explainTransportFailure(result.failure, what, req.timeoutMs, attempt);
		}
		await pause(decision.delayMs, req.signal, what);
	}
}

type AttemptResult = { response: HttpResponse; retryAfterMs?: number } | { failure: HttpTransportError };

/** One HTTP attempt inside a pacer slot; the slot is free again before any backoff starts. */
async function attemptOnce(req: RetryRequest): Promise<AttemptResult> {
	const slot = await req.pacer?.acquire(req.signal);
	try {
		const response = await sendHttpRequest(req);
		const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
		if (response.status === 429) slot?.throttled(retryAfterMs);
		else if (response.status < 400) slot?.succeeded();
		return { response, retryAfterMs };
	} catch (error) {
		// sendHttpRequest rejects with nothing else.
		return { failure: error as HttpTransportError };
	} finally {
		slot?.release();
	}
}

async function pause(ms: number, signal: AbortSignal | undefined, what: string): Promise<void> {
	try {
		await delay(ms, undefined, { signal });
	} catch {
		throw cancelledError(what);
	}
}

export interface ApiCallOptions {
	pacer: RequestPacer;
	timeoutMs: number;
	signal?: AbortSignal;
}

export interface LoyaltyCheckIn {
	phoneNumber: string;
	isMember: boolean;
	merchantSerialNumber?: string;
}

export interface DescribedRequest {
	method: 'POST';
	url: string;
	headers: Record<string, string>;
	body: unknown;
}

/** The check-in id: a JSON string or `{ "id": … }`; spec-generated mocks send it as raw text. */
const checkInIdSchema = z.union([z.string().min(1), z.object({ id: z.string().min(1) }).transform((value) => value.id)]);
const RAW_TEXT_ID = /^[\w-]{1,200}$/;

function parseCheckInId(body: string): string | null {
	const text = body.trim();
	if (RAW_TEXT_ID.test(text)) return text;
	let json: unknown;
	try {
		json = JSON.parse(text);
	} catch {
		return null;
	}
	const parsed = checkInIdSchema.safeParse(json);
	return parsed.success ? parsed.data : null;
}

const qrExchangeResponseSchema = z.object({
	msisdn: z.string().min(1),
	version: z.string().optional(),
	timestamp: z.unknown().optional(),
});

export type QrExchangeResult = z.infer<typeof qrExchangeResponseSchema>;

/**
 * Calls for one node execution with one credential. Remembers a failed token request for the
 * rest of the execution, so wrong keys cost one token request, not one per item.
 */
export class VippsApiClient {
	private readonly tokenFailures = new Map<string, Error>();

	constructor(
		private readonly credentials: VippsCredentials,
		private readonly options: ApiCallOptions,
	) {}

	async sendLoyaltyCheckIn(checkIn: LoyaltyCheckIn): Promise<{ checkInId: string | null }> {
		const body = await this.call(
			VIPPS_PATHS.loyaltyCheckIn,
			{ phoneNumber: checkIn.phoneNumber, isMember: checkIn.isMember },
			checkIn.merchantSerialNumber,
			'the check-in',
			true,
		);
		// A 200 means Vipps took the check-in; an unreadable id is no reason to send it again.
		return { checkInId: parseCheckInId(body) };
	}

	async exchangeQrCode(qrCode: string, merchantSerialNumber?: string): Promise<QrExchangeResult> {
		const body = await this.call(
			VIPPS_PATHS.qrExchange,
			{ qrCode, requestedData: ['MSISDN'] },
			merchantSerialNumber,
			'the QR code exchange',
		);
		const parsed = qrExchangeResponseSchema.safeParse(parseJsonBody(body));
		if (!parsed.success) {
			throw new VippsError('Vipps answered the QR code exchange with an unexpected body', {
				description: 'Expected JSON with msisdn. Check the credential\'s Environment or Custom Base URL.',
				httpCode: '200',
			});
		}
		return parsed.data;
	}

	/** The MSN a call sends: the per-item override, else the credential's, else none. */
	merchantSerialNumberFor(override: string | undefined): string | null {
		return override ?? this.credentials.merchantSerialNumber ?? null;
	}

	/** What a check-in request would look like, secrets replaced: for the dry run. */
	describeLoyaltyCheckIn(checkIn: LoyaltyCheckIn): DescribedRequest {
		const msn = this.merchantSerialNumberFor(checkIn.merchantSerialNumber) ?? undefined;
		return {
			method: 'POST',
			url: vippsUrl(this.credentials, VIPPS_PATHS.loyaltyCheckIn),
			headers: {
				Authorization: `Bearer ${REDACTED}`,
				'Content-Type': 'application/json',
				...commonHeaders({ ...this.credentials, subscriptionKey: REDACTED }, msn),
			},
			body: { phoneNumber: checkIn.phoneNumber, isMember: checkIn.isMember },
		};
	}

	private async call(
		path: string,
		payload: unknown,
		msnOverride: string | undefined,
		what: string,
		productionOnly = false,
	): Promise<string> {
		const credentials: VippsCredentials = msnOverride
			? { ...this.credentials, merchantSerialNumber: msnOverride }
			: this.credentials;
		let token: string | undefined;
		try {
			token = await this.accessToken(credentials);
			let result = await this.send(credentials, token, path, payload, what);
			// An expired or revoked token: one fresh token, one more try.
			if (result.response.status === 401 && !/subscription key/i.test(result.response.body)) {
				accessTokenCache.invalidate(credentials, token);
				token = await this.accessToken(credentials);
				result = await this.send(credentials, token, path, payload, what);
			}
			const { response, attempts } = result;
			if (response.status >= 200 && response.status < 300) return response.body;
			throw explainApiFailure(response.status, parseJsonBody(response.body), {
				what,
				environment: credentials.environment,
				baseUrl: credentials.baseUrl,
				attempts,
				productionOnly,
			});
		} catch (error) {
			throw this.withoutSecrets(error, token);
		}
	}

	private send(credentials: VippsCredentials, token: string, path: string, payload: unknown, what: string) {
		return sendWithRetries(
			{
				method: 'POST',
				url: vippsUrl(credentials, path),
				headers: {
					Authorization: `Bearer ${token}`,
					'Content-Type': 'application/json',
					...commonHeaders(credentials, credentials.merchantSerialNumber),
				},
				body: JSON.stringify(payload),
				timeoutMs: this.options.timeoutMs,
				signal: this.options.signal,
				pacer: this.options.pacer,
			},
			what,
		);
	}

	private accessToken(credentials: VippsCredentials): Promise<string> {
		const key = AccessTokenCache.keyOf(credentials);
		const earlierFailure = this.tokenFailures.get(key);
		if (earlierFailure) return Promise.reject(earlierFailure);
		const cached = accessTokenCache.usableToken(credentials);
		if (cached !== undefined) return Promise.resolve(cached);
		const token = abortable(accessTokenCache.getToken(credentials), this.options.signal);
		token.catch((error: Error) => {
			if (!this.options.signal?.aborted) this.tokenFailures.set(key, error);
		});
		return token;
	}

	private withoutSecrets(error: unknown, token: string | undefined): Error {
		const extra = token ? [token] : [];
		if (error instanceof VippsError) {
			const details = error.details;
			const vippsResponse =
				details.vippsResponse === undefined
					? undefined
					: JSON.parse(redactSecrets(JSON.stringify(details.vippsResponse), this.credentials, extra));
			return new VippsError(redactSecrets(error.message, this.credentials, extra), {
				...details,
				description: redactSecrets(details.description, this.credentials, extra),
				vippsResponse,
			});
		}
		const message = error instanceof Error ? error.message : String(error);
		return new Error(redactSecrets(message, this.credentials, extra));
	}
}

/** Lets one caller stop waiting for a shared promise without cancelling it for the others. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
	if (!signal) return promise;
	signal.throwIfAborted();
	return new Promise<T>((resolve, reject) => {
		const onAbort = () => reject(cancelledError('The request'));
		signal.addEventListener('abort', onAbort, { once: true });
		promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
	});
}
