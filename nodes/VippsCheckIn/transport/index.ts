/**
 * The one door to the Vipps MobilePay API: headers, access tokens, pacing, retries and error
 * translation for every call the node makes. Every request goes through n8n's own HTTP helper,
 * so n8n's proxy settings, SSRF protection and outbound rules apply to it. Operations call
 * VippsApiClient and nothing below it.
 */
import { sleep, type IHttpRequestOptions, type IN8nHttpFullResponse } from 'n8n-workflow';
import { z } from 'zod';

import { AccessTokenCache, type AccessTokenGrant } from './accessTokenCache';
import type { RequestPacer } from './requestPacer';
import { classifyTransportFailure, decideRetry, parseRetryAfter, type AttemptOutcome, type TransportFailure } from './retryPolicy';
import type { VippsCredentials } from './vippsCredentials';
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

/** The part of n8n's helpers the transport uses: `this.helpers` of the running node or credential. */
export interface N8nHttp {
	httpRequest(options: IHttpRequestOptions): Promise<unknown>;
}

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

/** POST /accesstoken/get, uncached: the token cache calls it (through VippsApiClient). */
async function requestAccessToken(http: N8nHttp, credentials: VippsCredentials): Promise<AccessTokenGrant> {
	const { response, attempts } = await sendWithRetries(
		http,
		{
			url: vippsUrl(credentials, VIPPS_PATHS.accessToken),
			headers: {
				client_id: credentials.clientId,
				client_secret: credentials.clientSecret,
				...commonHeaders(credentials, credentials.merchantSerialNumber),
			},
			timeoutMs: TOKEN_REQUEST_TIMEOUT_MS,
		},
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
export const accessTokenCache = new AccessTokenCache();

function commonHeaders(credentials: VippsCredentials, merchantSerialNumber: string | undefined): Record<string, string> {
	return {
		'Ocp-Apim-Subscription-Key': credentials.subscriptionKey,
		// An empty MSN header is invalid: leave it out when there is none.
		...(merchantSerialNumber ? { 'Merchant-Serial-Number': merchantSerialNumber } : {}),
		...credentials.systemHeaders,
	};
}

interface VippsRequest {
	url: string;
	headers: Record<string, string>;
	body?: string;
	timeoutMs: number;
	signal?: AbortSignal;
	pacer?: RequestPacer;
}

interface VippsResponse {
	status: number;
	headers: Record<string, unknown>;
	body: string;
}

type AttemptResult = { response: VippsResponse } | { failure: TransportFailure };

/** Sends one request under the retry policy (retryPolicy.ts) and the batch's pacer. */
async function sendWithRetries(
	http: N8nHttp,
	req: VippsRequest,
	what: string,
): Promise<{ response: VippsResponse; attempts: number }> {
	const startedAt = Date.now();
	for (let attempt = 1; ; attempt++) {
		const result = await attemptOnce(http, req);
		const outcome: AttemptOutcome =
			'response' in result
				? { type: 'status', status: result.response.status, retryAfterMs: retryAfterOf(result.response) }
				: { type: 'transport', kind: result.failure.kind };
		const decision = decideRetry(outcome, attempt, Date.now() - startedAt);
		if (!decision.retry) {
			if ('response' in result) return { response: result.response, attempts: attempt };
			throw explainTransportFailure(result.failure, req.url, what, req.timeoutMs, attempt);
		}
		if (!(await pause(decision.delayMs, req.signal))) throw cancelledError(what);
	}
}

function retryAfterOf(response: VippsResponse): number | undefined {
	return parseRetryAfter(response.headers['retry-after'] as string | string[] | undefined);
}

/** One HTTP attempt inside a pacer slot; the slot is free again before any backoff starts. */
async function attemptOnce(http: N8nHttp, req: VippsRequest): Promise<AttemptResult> {
	const slot = req.pacer ? await req.pacer.acquire(req.signal).catch(() => undefined) : undefined;
	if (req.pacer && !slot) return { failure: { kind: 'cancelled', code: 'ABORTED' } };
	try {
		const result = await send(http, req);
		if ('response' in result) {
			const { status } = result.response;
			if (status === 429) slot?.throttled(retryAfterOf(result.response));
			else if (status < 400) slot?.succeeded();
		}
		return result;
	} finally {
		slot?.release();
	}
}

async function send(http: N8nHttp, req: VippsRequest): Promise<AttemptResult> {
	let answer: IN8nHttpFullResponse;
	try {
		answer = (await http.httpRequest({
			method: 'POST',
			url: req.url,
			headers: req.body === undefined ? req.headers : { ...req.headers, 'Content-Type': 'application/json' },
			body: req.body,
			timeout: req.timeoutMs,
			abortSignal: req.signal,
			returnFullResponse: true,
			ignoreHttpStatusErrors: true,
			// The check-in id may come as raw text: read every body as text and parse it here.
			encoding: 'text',
			json: false,
		})) as IN8nHttpFullResponse;
	} catch (error) {
		// The status arrived but the body broke off: the answer counts (a 200 means Vipps took it).
		const status = (error as { response?: { status?: unknown } }).response?.status;
		if (typeof status === 'number' && !req.signal?.aborted) return { response: { status, headers: {}, body: '' } };
		return { failure: classifyTransportFailure(error, req.signal) };
	}
	return {
		response: {
			status: answer.statusCode,
			headers: answer.headers as Record<string, unknown>,
			body: typeof answer.body === 'string' ? answer.body : String(answer.body ?? ''),
		},
	};
}

/** Waits `ms`; false when the execution was cancelled meanwhile. */
async function pause(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
	return await sleep(ms, signal).then(
		() => true,
		() => false,
	);
}

export interface ApiCallOptions {
	/** `this.helpers` of the running node. */
	http: N8nHttp;
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
	/** Unix seconds, as a number or as text: read by the operation, never trusted here. */
	timestamp: z.unknown().optional(),
});

export type QrExchangeResult = z.infer<typeof qrExchangeResponseSchema>;

/**
 * Calls for one node execution with one credential. Within the execution, a failed token
 * request is remembered (wrong keys cost one token request, not one per item), and a 401 earns
 * at most one forced token renewal per credential set (a key that may not use the API costs two
 * token requests, not two per item).
 */
export class VippsApiClient {
	private readonly tokenFailures = new Map<string, Error>();
	private readonly renewedAfterRejection = new Set<string>();
	/** Every token this execution used, so none can slip into an error message. */
	private readonly tokensUsed = new Set<string>();

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
				description: "Expected JSON with msisdn. Check the credential's Environment or Custom Base URL.",
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

	/** `text` with the credential's secrets and every token of this execution replaced. */
	redact(text: string): string {
		return redactSecrets(text, this.credentials, [...this.tokensUsed]);
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
		let token = await this.accessToken(credentials);
		let result = await this.send(credentials, token, path, payload, what);
		if (result.response.status === 401 && !/subscription key/i.test(result.response.body)) {
			const fresh = await this.tokenAfterRejection(credentials, token);
			if (fresh !== undefined) {
				token = fresh;
				result = await this.send(credentials, token, path, payload, what);
			}
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
	}

	/**
	 * Vipps refused `rejected` (expired, revoked): the token to try once more, or undefined when
	 * this execution already renewed it once and the fresh token was refused as well.
	 */
	private async tokenAfterRejection(credentials: VippsCredentials, rejected: string): Promise<string | undefined> {
		const key = AccessTokenCache.keyOf(credentials);
		if (!this.renewedAfterRejection.has(key)) {
			this.renewedAfterRejection.add(key);
			accessTokenCache.invalidate(credentials, rejected);
		}
		const current = await this.accessToken(credentials);
		return current === rejected ? undefined : current;
	}

	private send(credentials: VippsCredentials, token: string, path: string, payload: unknown, what: string) {
		return sendWithRetries(
			this.options.http,
			{
				url: vippsUrl(credentials, path),
				headers: { Authorization: `Bearer ${token}`, ...commonHeaders(credentials, credentials.merchantSerialNumber) },
				body: JSON.stringify(payload),
				timeoutMs: this.options.timeoutMs,
				signal: this.options.signal,
				pacer: this.options.pacer,
			},
			what,
		);
	}

	private async accessToken(credentials: VippsCredentials): Promise<string> {
		const key = AccessTokenCache.keyOf(credentials);
		const earlierFailure = this.tokenFailures.get(key);
		if (earlierFailure) throw earlierFailure;
		const fetchToken = () => requestAccessToken(this.options.http, credentials);
		const token =
			accessTokenCache.usableToken(credentials, fetchToken) ??
			(await abortable(accessTokenCache.getToken(credentials, fetchToken), this.options.signal).catch((error: Error) => {
				if (!this.options.signal?.aborted) this.tokenFailures.set(key, error);
				throw error;
			}));
		this.tokensUsed.add(token);
		return token;
	}
}

/** Lets one caller stop waiting for a shared promise without cancelling it for the others. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
	if (!signal) return promise;
	if (signal.aborted) return Promise.reject(cancelledError('The request'));
	return new Promise<T>((resolve, reject) => {
		const onAbort = () => reject(cancelledError('The request'));
		signal.addEventListener('abort', onAbort, { once: true });
		promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
	});
}
