/**
 * The one door to the Vipps MobilePay API: headers, access tokens, pacing, retries and error
 * translation for every call the node makes. Every request goes through n8n's own HTTP helper
 * (n8n's proxy settings, SSRF protection and outbound rules apply) and no redirect is followed:
 * the keys and the token never leave for another origin. Operations call VippsApiClient only.
 *
 * Words used throughout transport/:
 * - target: a credential's base URL and keys (hashed); one token and one pacer per target per process.
 * - attempt: one HTTP request sent. Its result is an answer (a status arrived) or a failure (none did).
 * - step: what the classifier (retryPolicy.ts) makes of a result: final, again, againOnce, wait.
 * - may have arrived: an attempt that may have reached Vipps without an answer to keep (mayHaveArrived,
 *   the only such rule). A check-in after one of them is a possible duplicate.
 * - budget: 120 s from a request's first attempt; a wait that would end beyond it is not started.
 * - closed gateway: a 429 whose Retry-After ends beyond the budget; the call fails now, naming the time.
 * - pacer: the shared rate of a target (requestPacer.ts); cap: the caller's Max Requests per Second.
 */
import { sleep, type IHttpRequestOptions, type IN8nHttpFullResponse } from 'n8n-workflow';
import { z } from 'zod';

import { AccessTokenCache } from './accessTokenCache';
import { GatewayClosed, pacerFor, type RateCap, type RequestPacer } from './requestPacer';
import { RETRY_POLICY, delayBeforeNext, failureOf, mayHaveArrived, nextStep, parseRetryAfter, type AttemptResult, type Attempts } from './retryPolicy';
import type { VippsCredentials } from './vippsCredentials';
import {
	TOKEN_REQUEST, VippsError, cancelledError, closedGatewayError, explainApiFailure, explainTokenFailure, explainTransportFailure,
	isSubscriptionKeyRejection, parseJsonBody, REDACTED, redactSecrets, redirectError, unexpectedBody, withAttempts,
} from './vippsErrors';

/** Paths below the environment's base URL. */
export const VIPPS_PATHS = {
	accessToken: 'accesstoken/get',
	loyaltyCheckIn: 'point-of-sale/v1/loyalty-check-in',
	qrExchange: 'qr/v1/exchange',
} as const;

/** The part of n8n's helpers the transport uses: `this.helpers` of the running node. */
export interface N8nHttp {
	httpRequest(options: IHttpRequestOptions): Promise<unknown>;
}

/** The token request is shared by many callers, so it has its own fixed timeout. */
const TOKEN_REQUEST_TIMEOUT_MS = 30_000;

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
	/** Names the request in errors, e.g. "the check-in". */
	what: string;
	/** A check-in shows on the customer's phone: sent again more sparingly. */
	notifiesCustomer: boolean;
	/** Words for an error status. */
	explain(status: number, body: unknown): VippsError;
	pacer?: RequestPacer;
	cap?: RateCap;
	/** The bearer token, and after a 401 the one to send again with (once), if there is one. */
	token?: string;
	renewToken?(rejected: string): Promise<string | undefined>;
}

/** Sends one request under the retry policy and the target's pacer; resolves with a 2xx body. */
async function sendWithRetries(http: N8nHttp, req: VippsRequest): Promise<{ body: string; attempts: number; possibleDuplicate: boolean }> {
	const attempts: Attempts = { made: 0, failed: 0, mayHaveArrived: 0 };
	let firstAttemptAt: number | undefined;
	let { token } = req;
	let renewed = false;
	const failed = (error: VippsError) => withAttempts(error, attempts, req.notifiesCustomer);
	for (;;) {
		const headers = token ? { ...req.headers, Authorization: `Bearer ${token}` } : req.headers;
		const attempt = async () => {
			firstAttemptAt ??= Date.now();
			attempts.made++;
			return await send(http, { ...req, headers });
		};
		let result: AttemptResult;
		try {
			const deadline = (firstAttemptAt ?? Date.now()) + RETRY_POLICY.budgetMs;
			result = req.pacer ? await req.pacer.run(attempt, { signal: req.signal, cap: req.cap, deadline }) : await attempt();
		} catch (error) {
			// Only the pacer throws: a closed gateway, or a cancel while waiting for a turn (nothing sent).
			throw failed(error instanceof GatewayClosed ? closedGatewayError(req.what, error.until) : cancelledError(req.what));
		}
		if ('status' in result && result.status === 401 && token && req.renewToken && !renewed && !isSubscriptionKeyRejection(parseJsonBody(result.body))) {
			renewed = true;
			const fresh = await req.renewToken(token);
			if (fresh !== undefined) {
				// The gateway refused the token: this attempt never reached the API.
				attempts.failed++;
				token = fresh;
				continue;
			}
		}
		const step = nextStep(result, req.notifiesCustomer);
		if (step === 'again' || step === 'againOnce') attempts.failed++;
		if (mayHaveArrived(result)) attempts.mayHaveArrived++;
		const retryAfterMs = 'status' in result ? result.retryAfterMs : undefined;
		const elapsedMs = Date.now() - firstAttemptAt!;
		const delayMs = delayBeforeNext(step, attempts, elapsedMs, retryAfterMs);
		if (delayMs === undefined) {
			if (step === 'wait' && retryAfterMs !== undefined && elapsedMs + retryAfterMs > RETRY_POLICY.budgetMs) {
				throw failed(closedGatewayError(req.what, Date.now() + retryAfterMs));
			}
			const error = explainResult(req, result);
			if (error) throw failed(error);
			return { body: (result as { body: string }).body, attempts: attempts.made, possibleDuplicate: req.notifiesCustomer && attempts.mayHaveArrived > 0 };
		}
		await sleep(delayMs, req.signal).catch(() => {
			throw failed(cancelledError(req.what));
		});
	}
}

/** What went wrong with the last attempt, or undefined for a 2xx. */
function explainResult(req: VippsRequest, result: AttemptResult): VippsError | undefined {
	if (!('status' in result)) return explainTransportFailure(result, req.url, req.what, req.timeoutMs);
	const { status, body, location } = result;
	if (status >= 200 && status < 300) return undefined;
	if (status >= 300 && status < 400) return redirectError(req.what, status, location, req.url);
	return req.explain(status, parseJsonBody(body));
}

/** One HTTP attempt. */
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
		if (typeof status === 'number' && !req.signal?.aborted) return { status, body: '' };
		return failureOf(error, req.signal);
	}
	const headers = answer.headers as Record<string, string | undefined>;
	const body = typeof answer.body === 'string' ? answer.body : String(answer.body ?? '');
	return { status: answer.statusCode, body, retryAfterMs: parseRetryAfter(headers['retry-after']), location: headers.location };
}

/** Vipps sends every value as a string, numbers included. */
const accessTokenResponseSchema = z.object({
	access_token: z.string().min(1),
	expires_in: z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(Number),
});

/**
 * POST /accesstoken/get, uncached (the token cache calls it), unpaced and with no cancel signal: it
 * is shared by every caller. It notifies nobody, so a refusal, a 429 and a 5xx are sent again. The
 * MSN header is optional here (partner keys send one); the token does not depend on it.
 */
async function requestAccessToken(http: N8nHttp, credentials: VippsCredentials, merchantSerialNumber: string | undefined) {
	const { body } = await sendWithRetries(http, {
		url: `${credentials.baseUrl}/${VIPPS_PATHS.accessToken}`,
		headers: { client_id: credentials.clientId, client_secret: credentials.clientSecret, ...vippsHeaders(credentials, merchantSerialNumber) },
		timeoutMs: TOKEN_REQUEST_TIMEOUT_MS,
		what: TOKEN_REQUEST,
		notifiesCustomer: false,
		explain: (status, answer) => explainTokenFailure(status, answer, credentials.baseUrl),
	});
	const parsed = accessTokenResponseSchema.safeParse(parseJsonBody(body));
	if (!parsed.success) throw unexpectedBody(`${credentials.baseUrl} answered ${TOKEN_REQUEST}`, 'access_token and expires_in');
	return { accessToken: parsed.data.access_token, expiresInSeconds: parsed.data.expires_in };
}

export interface ApiCallOptions {
	/** `this.helpers` of the running node. */
	http: N8nHttp;
	/** TEMPORARY: unused (Concurrency is batch.ts's workers); removed once batch.ts stops passing it. */
	maxConcurrency?: number;
	/** The user's cap on requests started per second by this client, if any. */
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
 * Calls for one node execution with one credential. Within the execution, a failed token request
 * is remembered (wrong keys cost one token request, not one per item), and a 401 earns at most one
 * forced token renewal (a key that may not use the API costs two token requests, not two per item).
 */
export class VippsApiClient {
	private tokenFailure: Error | undefined;
	private renewedAfterRejection = false;
	/** Every token this execution used, so none can slip into an error message. */
	private readonly tokensUsed = new Set<string>();
	private readonly cap: RateCap | undefined;

	constructor(
		private readonly credentials: VippsCredentials,
		private readonly options: ApiCallOptions,
	) {
		this.cap = options.maxRequestsPerSecond ? { perSecond: options.maxRequestsPerSecond, nextStartAt: 0 } : undefined;
	}

	async sendLoyaltyCheckIn(checkIn: LoyaltyCheckIn): Promise<LoyaltyCheckInResult> {
		const payload = { phoneNumber: checkIn.phoneNumber, isMember: checkIn.isMember };
		const { body, attempts, possibleDuplicate } = await this.call(VIPPS_PATHS.loyaltyCheckIn, payload, checkIn.merchantSerialNumber, 'the check-in', true);
		// A 2xx means Vipps took the check-in; an unreadable id is no reason to send it again.
		return { checkInId: parseCheckInId(body), attempts, possibleDuplicate };
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
			headers: { Authorization: `Bearer ${REDACTED}`, 'Content-Type': 'application/json', ...vippsHeaders({ ...this.credentials, subscriptionKey: REDACTED }, msn) },
			body: { phoneNumber: checkIn.phoneNumber, isMember: checkIn.isMember },
		};
	}

	/** `text` with the credential's secrets and every token of this execution replaced: the one redaction. */
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
			what,
			notifiesCustomer: isCheckIn,
			explain: (status, body) => explainApiFailure(status, body, { what, environment, baseUrl, productionOnly: isCheckIn }),
			pacer: pacerFor(this.credentials),
			cap: this.cap,
			token: await this.accessToken(msn).catch((error: Error) => {
				throw error instanceof VippsError ? withAttempts(error, { made: 0, failed: 0, mayHaveArrived: 0 }, false) : error;
			}),
			renewToken: async (rejected) => await this.tokenAfterRejection(rejected, msn),
		});
	}

	/**
	 * The one 401 renewal: Vipps refused `rejected` (expired, revoked). The token to try once more,
	 * or undefined when this execution already renewed once and the fresh token was refused as well.
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
		const token = await abortable(accessTokenCache.getToken(this.credentials, fetchToken), this.options.signal).catch((error: Error) => {
			if (!this.options.signal?.aborted) this.tokenFailure = error;
			throw error;
		});
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
