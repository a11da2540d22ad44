/**
 * The one door to the Vipps MobilePay API: headers, access tokens, pacing, retries and error
 * translation for every call the node makes. Every request goes through n8n's own HTTP helper,
 * so n8n's proxy settings, SSRF protection and outbound rules apply to it, and no redirect is
 * followed: the keys and the token never leave for another origin. Operations call
 * VippsApiClient and nothing below it.
 */
import { sleep, type IHttpRequestOptions, type IN8nHttpFullResponse } from 'n8n-workflow';
import { z } from 'zod';

import { AccessTokenCache, type AccessTokenGrant } from './accessTokenCache';
import { RequestPacer } from './requestPacer';
import { classifyTransportFailure, decideRetry, outcomeOfStatus, parseRetryAfter, tallyAttempt, type AttemptTally, type TransportFailure } from './retryPolicy';
import type { VippsCredentials } from './vippsCredentials';
import {
	VippsError, cancelledError, explainApiFailure, explainTokenFailure, explainTransportFailure,
	isSubscriptionKeyRejection, parseJsonBody, redactSecrets, redirectError, unexpectedBody, withAttempts,
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

/** The token request is shared by many callers, so it has its own fixed timeout. */
const TOKEN_REQUEST_TIMEOUT_MS = 30_000;
const REDACTED = '[redacted]';

/** One cache for the whole n8n process: tokens outlive a single execution. */
export const accessTokenCache = new AccessTokenCache();

function vippsHeaders(credentials: VippsCredentials, merchantSerialNumber: string | undefined): Record<string, string> {
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
	/** Names the request in errors, e.g. "the check-in". */
	what: string;
	/** A check-in shows on the customer's phone: the retry policy resends it more sparingly. */
	notifiesCustomer: boolean;
	/** Words for an error status. */
	explain(status: number, body: unknown): VippsError;
	/** The bearer token, and after a 401 the one to send again with (once), if there is one. */
	token?: string;
	renewToken?(rejected: string): Promise<string | undefined>;
}

/** What the transport keeps of an answer: the status, the body as text, and two headers. */
interface VippsResponse {
	status: number;
	body: string;
	retryAfterMs?: number;
	location?: string;
}

type AttemptResult = { response: VippsResponse } | { failure: TransportFailure };

/** Sends one request under the retry policy (retryPolicy.ts) and the batch's pacer; resolves with a 2xx body. */
async function sendWithRetries(http: N8nHttp, req: VippsRequest): Promise<{ body: string; tally: AttemptTally }> {
	const startedAt = Date.now();
	let tally: AttemptTally = { attempts: 0, failures: 0, maybeSent: 0 };
	let { token } = req;
	let renewed = false;
	for (;;) {
		const result = await attemptOnce(http, token ? { ...req, headers: { ...req.headers, Authorization: `Bearer ${token}` } } : req);
		const response = 'response' in result ? result.response : undefined;
		if (response?.status === 401 && token && req.renewToken && !renewed && !isSubscriptionKeyRejection(parseJsonBody(response.body))) {
			renewed = true;
			const fresh = await req.renewToken(token);
			if (fresh !== undefined) {
				// The gateway refused the token: this attempt never reached the API.
				tally = tallyAttempt(tally, { reach: 'notSent' });
				token = fresh;
				continue;
			}
		}
		const outcome = response ? outcomeOfStatus(response.status, response.retryAfterMs) : (result as { failure: TransportFailure }).failure;
		tally = tallyAttempt(tally, outcome);
		const delayMs = decideRetry(outcome, tally, Date.now() - startedAt, req.notifiesCustomer);
		if (delayMs === undefined) {
			const error = failureOf(req, result);
			if (error) throw withAttempts(error, tally, req.notifiesCustomer);
			return { body: response!.body, tally };
		}
		await sleep(delayMs, req.signal).catch(() => {
			throw withAttempts(cancelledError(req.what), tally, req.notifiesCustomer);
		});
	}
}

/** What went wrong with the last attempt, or undefined for a 2xx. */
function failureOf(req: VippsRequest, result: AttemptResult): VippsError | undefined {
	if ('failure' in result) return explainTransportFailure(result.failure, req.url, req.what, req.timeoutMs);
	const { status, body, location } = result.response;
	if (status >= 200 && status < 300) return undefined;
	if (status >= 300 && status < 400) return redirectError(req.what, status, location, req.url);
	return req.explain(status, parseJsonBody(body));
}

/** One HTTP attempt inside a pacer slot; the slot is free again before any backoff starts. */
async function attemptOnce(http: N8nHttp, req: VippsRequest): Promise<AttemptResult> {
	const slot = req.pacer ? await req.pacer.acquire(req.signal).catch(() => undefined) : undefined;
	if (req.pacer && !slot) return { failure: { kind: 'cancelled', reach: 'final', code: 'ABORTED' } };
	try {
		const result = await send(http, req);
		if ('response' in result && result.response.status === 429) slot?.throttled(result.response.retryAfterMs);
		else if ('response' in result && result.response.status < 400) slot?.succeeded();
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
			disableFollowRedirect: true,
			returnFullResponse: true,
			ignoreHttpStatusErrors: true,
			// The check-in id may come as raw text: read every body as text and parse it here.
			encoding: 'text',
			json: false,
		})) as IN8nHttpFullResponse;
	} catch (error) {
		// The status arrived but the body broke off: the answer counts (a 200 means Vipps took it).
		// Axios gives it as the response, or only on its Node request when it timed out reading the body.
		const { response, request } = error as { response?: { status?: unknown }; request?: { res?: { statusCode?: unknown } } };
		const status = response?.status ?? request?.res?.statusCode;
		if (typeof status === 'number' && !req.signal?.aborted) return { response: { status, body: '' } };
		return { failure: classifyTransportFailure(error, req.signal) };
	}
	const headers = answer.headers as Record<string, string | undefined>;
	const body = typeof answer.body === 'string' ? answer.body : String(answer.body ?? '');
	return { response: { status: answer.statusCode, body, retryAfterMs: parseRetryAfter(headers['retry-after']), location: headers.location } };
}

/** Vipps sends every value as a string, numbers included. */
const accessTokenResponseSchema = z.object({
	access_token: z.string().min(1),
	expires_in: z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(Number),
});

/**
 * POST /accesstoken/get, uncached: the token cache calls it. The MSN header is optional here
 * (partner keys send one); the token does not depend on it.
 */
async function requestAccessToken(http: N8nHttp, credentials: VippsCredentials, merchantSerialNumber: string | undefined): Promise<AccessTokenGrant> {
	const { body } = await sendWithRetries(http, {
		url: `${credentials.baseUrl}/${VIPPS_PATHS.accessToken}`,
		headers: { client_id: credentials.clientId, client_secret: credentials.clientSecret, ...vippsHeaders(credentials, merchantSerialNumber) },
		timeoutMs: TOKEN_REQUEST_TIMEOUT_MS,
		what: 'the access token request',
		notifiesCustomer: false,
		explain: (status, answer) => explainTokenFailure(status, answer, credentials.baseUrl),
	});
	const parsed = accessTokenResponseSchema.safeParse(parseJsonBody(body));
	if (!parsed.success) throw unexpectedBody(`${credentials.baseUrl} answered the access token request`, 'access_token and expires_in');
	return { accessToken: parsed.data.access_token, expiresInSeconds: parsed.data.expires_in };
}

export interface ApiCallOptions {
	/** `this.helpers` of the running node. */
	http: N8nHttp;
	/** Requests of this execution under way at once. */
	maxConcurrency: number;
	/** The user's cap on requests started per second, if any. */
	maxRequestsPerSecond?: number;
	timeoutMs: number;
	signal?: AbortSignal;
}

export interface LoyaltyCheckIn {
	phoneNumber: string;
	isMember: boolean;
	merchantSerialNumber?: string;
}

export interface LoyaltyCheckInResult {
	/** Vipps's id for the check-in; null when its 2xx body held none that could be read. */
	checkInId: string | null;
	/** HTTP attempts made for this check-in: 1 when the first was answered 2xx. */
	attempts: number;
	/** True when it was sent again after an attempt that may have reached Vipps: the customer may have seen it twice. */
	possibleDuplicate: boolean;
}

/** The check-in id: a JSON string or `{ "id": … }`; spec-generated mocks send it as raw text. */
const checkInIdSchema = z.union([z.string().min(1), z.object({ id: z.string().min(1) }).transform((value) => value.id)]);

function parseCheckInId(body: string): string | null {
	const text = body.trim();
	if (/^[\w-]{1,200}$/.test(text)) return text;
	try {
		const parsed = checkInIdSchema.safeParse(JSON.parse(text));
		return parsed.success ? parsed.data : null;
	} catch {
		return null;
	}
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
 * at most one forced token renewal (a key that may not use the API costs two token requests,
 * not two per item).
 */
export class VippsApiClient {
	private tokenFailure: Error | undefined;
	private renewedAfterRejection = false;
	/** Every token this execution used, so none can slip into an error message. */
	private readonly tokensUsed = new Set<string>();
	private readonly pacer: RequestPacer;

	constructor(
		private readonly credentials: VippsCredentials,
		private readonly options: ApiCallOptions,
	) {
		this.pacer = new RequestPacer({ maxConcurrency: options.maxConcurrency, maxRequestsPerSecond: options.maxRequestsPerSecond });
	}

	async sendLoyaltyCheckIn(checkIn: LoyaltyCheckIn): Promise<LoyaltyCheckInResult> {
		const payload = { phoneNumber: checkIn.phoneNumber, isMember: checkIn.isMember };
		const { body, tally } = await this.call(VIPPS_PATHS.loyaltyCheckIn, payload, checkIn.merchantSerialNumber, 'the check-in', true);
		// A 2xx means Vipps took the check-in; an unreadable id is no reason to send it again.
		return { checkInId: parseCheckInId(body), attempts: tally.attempts, possibleDuplicate: tally.maybeSent > 0 };
	}

	async exchangeQrCode(qrCode: string, merchantSerialNumber?: string): Promise<QrExchangeResult> {
		const { body } = await this.call(VIPPS_PATHS.qrExchange, { qrCode, requestedData: ['MSISDN'] }, merchantSerialNumber, 'the QR code exchange');
		const parsed = qrExchangeResponseSchema.safeParse(parseJsonBody(body));
		if (!parsed.success) throw unexpectedBody('Vipps answered the QR code exchange', 'msisdn');
		return parsed.data;
	}

	/** The MSN a call sends: the per-item override, else the credential's, else none. */
	merchantSerialNumberFor(override: string | undefined): string | null {
		return override ?? this.credentials.merchantSerialNumber ?? null;
	}

	/** What a check-in request would look like, secrets replaced: for the dry run. */
	describeLoyaltyCheckIn(checkIn: LoyaltyCheckIn): { method: 'POST'; url: string; headers: Record<string, string>; body: unknown } {
		const msn = this.merchantSerialNumberFor(checkIn.merchantSerialNumber) ?? undefined;
		return {
			method: 'POST',
			url: `${this.credentials.baseUrl}/${VIPPS_PATHS.loyaltyCheckIn}`,
			headers: {
				Authorization: `Bearer ${REDACTED}`,
				'Content-Type': 'application/json',
				...vippsHeaders({ ...this.credentials, subscriptionKey: REDACTED }, msn),
			},
			body: { phoneNumber: checkIn.phoneNumber, isMember: checkIn.isMember },
		};
	}

	/** `text` with the credential's secrets and every token of this execution replaced. */
	redact(text: string): string {
		return redactSecrets(text, this.credentials, [...this.tokensUsed]);
	}

	/** `isCheckIn`: it shows on the customer's phone, and only production can take it. */
	private async call(path: string, payload: unknown, msnOverride: string | undefined, what: string, isCheckIn = false) {
		const msn = this.merchantSerialNumberFor(msnOverride) ?? undefined;
		const { environment, baseUrl } = this.credentials;
		return await sendWithRetries(this.options.http, {
			url: `${baseUrl}/${path}`,
			headers: vippsHeaders(this.credentials, msn),
			body: JSON.stringify(payload),
			timeoutMs: this.options.timeoutMs,
			signal: this.options.signal,
			pacer: this.pacer,
			what,
			notifiesCustomer: isCheckIn,
			explain: (status, body) => explainApiFailure(status, body, { what, environment, baseUrl, productionOnly: isCheckIn }),
			token: await this.accessToken(msn),
			renewToken: async (rejected) => await this.tokenAfterRejection(rejected, msn),
		});
	}

	/**
	 * Vipps refused `rejected` (expired, revoked): the token to try once more, or undefined when
	 * this execution already renewed it once and the fresh token was refused as well.
	 */
	private async tokenAfterRejection(rejected: string, msn: string | undefined): Promise<string | undefined> {
		if (!this.renewedAfterRejection) {
			this.renewedAfterRejection = true;
			accessTokenCache.invalidate(this.credentials, rejected);
		}
		const current = await this.accessToken(msn);
		return current === rejected ? undefined : current;
	}

	/** `msn` goes along only if a token must be fetched. */
	private async accessToken(msn: string | undefined): Promise<string> {
		if (this.tokenFailure) throw this.tokenFailure;
		const fetchToken = async () => await requestAccessToken(this.options.http, this.credentials, msn);
		const token =
			accessTokenCache.usableToken(this.credentials, fetchToken) ??
			(await abortable(accessTokenCache.getToken(this.credentials, fetchToken), this.options.signal).catch((error: Error) => {
				if (!this.options.signal?.aborted) this.tokenFailure = error;
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
