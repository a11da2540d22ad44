/**
 * The one door to the Vipps MobilePay API: headers, tokens, pacing, retries and redaction, for every
 * call the node makes (Vipps's errors in words: helpers/vippsErrors.ts). Every request goes through n8n's HTTP helper (its proxy
 * settings, SSRF protection and outbound rules apply) and no redirect is followed: the keys and the
 * token never leave for another origin. Operations call VippsApiClient only.
 *
 * Words used throughout transport/:
 * - target: a credential's base URL and keys (hashed, targets.ts); one token and one pacer per target per process.
 * - attempt: one HTTP request sent. Its result is an answer (a status arrived) or a failure (none did).
 * - step: what the classifier (retryPolicy.ts) makes of a result: final, again, againOnce, wait.
 * - may have arrived: an attempt that may have reached Vipps without an answer to keep (mayHaveArrived,
 *   the only such rule). A check-in sent after one is a possible duplicate.
 * - budget: 120 s from a request's first attempt; a wait that would end beyond it is not started.
 * - closed gateway: a 429 whose Retry-After ends beyond the budget; the call fails now, naming the time.
 * - pacer: the rate a target's gateway allows, learned from 429s (requestPacer.ts); cap: the caller's
 *   own Max Requests per Second.
 */
import { sleep, type IHttpRequestOptions, type IN8nHttpFullResponse } from 'n8n-workflow';
import { z } from 'zod';

import type { VippsCredentials } from '../helpers/vippsCredentials';
import * as words from '../helpers/vippsErrors';
import { VippsError } from '../helpers/vippsErrors';
import { AccessTokenCache } from './accessTokenCache';
import { GatewayClosed, pacerFor, type RateCap } from './requestPacer';
import { RETRY_POLICY, delayBeforeNext, failureOf, mayHaveArrived, nextStep, parseRetryAfter, type AttemptResult, type Attempts } from './retryPolicy';

const VIPPS_PATHS = { accessToken: 'accesstoken/get', loyaltyCheckIn: 'point-of-sale/v1/loyalty-check-in', qrExchange: 'qr/v1/exchange' } as const;
const REDACTED = '[redacted]';

/** The part of n8n's helpers the transport uses: `this.helpers` of the running node. */
export interface N8nHttp {
	httpRequest(options: IHttpRequestOptions): Promise<unknown>;
}

/** One cache for the whole n8n process: tokens outlive a single execution. */
const accessTokenCache = new AccessTokenCache();

/**
 * `what` names the request in errors ("the check-in"); `notifiesCustomer`: a check-in shows on the
 * phone, so it is sent again more sparingly. `paced` is absent for the token request: shared by
 * every caller, it is neither paced nor cancelled by one. `renewToken` is the one 401 renewal.
 */
interface VippsRequest {
	url: string;
	headers: Record<string, string>;
	body?: string;
	timeoutMs: number;
	signal?: AbortSignal;
	what: string;
	notifiesCustomer: boolean;
	explain(status: number, body: unknown): VippsError;
	paced?: { credentials: VippsCredentials; cap?: RateCap };
	token?: string;
	renewToken?(rejected: string): Promise<string | undefined>;
}

/** Sends one request under the retry policy and the target's pacer; resolves with a 2xx body. */
async function sendWithRetries(http: N8nHttp, req: VippsRequest): Promise<{ body: string; attempts: number; possibleDuplicate: boolean }> {
	const attempts: Attempts = { made: 0, failed: 0, mayHaveArrived: 0 };
	// The one "possible duplicate" rule: a check-in sent when an attempt may already have arrived.
	const possibleDuplicate = () => req.notifiesCustomer && attempts.mayHaveArrived > 0;
	const failed = (error: VippsError) => words.withAttempts(error, attempts.made, possibleDuplicate());
	let firstAttemptAt: number | undefined;
	let { token } = req;
	for (;;) {
		const headers = token ? { ...req.headers, Authorization: `Bearer ${token}` } : req.headers;
		const attempt = async () => {
			firstAttemptAt ??= Date.now();
			attempts.made++;
			return await send(http, { ...req, headers });
		};
		let result: AttemptResult;
		try {
			const options = { signal: req.signal, cap: req.paced?.cap, deadline: (firstAttemptAt ?? Date.now()) + RETRY_POLICY.budgetMs };
			result = req.paced ? await pacerFor(req.paced.credentials).run(attempt, options) : await attempt();
		} catch (error) {
			// Only the pacer throws: a closed gateway, or a cancel while waiting for a turn (nothing sent).
			throw failed(error instanceof GatewayClosed ? words.closedGatewayError(req.what, error.until) : words.cancelledError(req.what));
		}
		if ('status' in result && result.status === 401 && token && req.renewToken && !words.isSubscriptionKeyRejection(words.parseJsonBody(result.body))) {
			const rejected = token;
			token = await req.renewToken(rejected);
			req = { ...req, renewToken: undefined };
			// The gateway refused the token: this attempt never reached the API.
			attempts.failed++;
			if (token !== undefined) continue;
			token = rejected;
		}
		const step = nextStep(result, req.notifiesCustomer);
		if (step === 'again' || step === 'againOnce') attempts.failed++;
		if (mayHaveArrived(result)) attempts.mayHaveArrived++;
		const retryAfterMs = 'status' in result ? result.retryAfterMs : undefined;
		const elapsedMs = Date.now() - firstAttemptAt!;
		const delayMs = delayBeforeNext(step, attempts, elapsedMs, retryAfterMs);
		if (delayMs === undefined) {
			// A wait is bounded by the budget alone: a Retry-After beyond it is a closed gateway.
			if (step === 'wait' && retryAfterMs !== undefined) throw failed(words.closedGatewayError(req.what, Date.now() + retryAfterMs));
			const error = explainResult(req, result);
			if (error) throw failed(error);
			return { body: (result as { body: string }).body, attempts: attempts.made, possibleDuplicate: possibleDuplicate() };
		}
		await sleep(delayMs, req.signal).catch(() => {
			throw failed(words.cancelledError(req.what));
		});
	}
}

/** What went wrong with the last attempt, or undefined for a 2xx. */
function explainResult(req: VippsRequest, result: AttemptResult): VippsError | undefined {
	if (!('status' in result)) return words.explainTransportFailure(result, req.url, req.what, req.timeoutMs);
	if (result.status >= 200 && result.status < 300) return undefined;
	if (result.status < 400) return words.redirectError(req.what, result.status, result.location, req.url);
	return req.explain(result.status, words.parseJsonBody(result.body));
}

/** One HTTP attempt. */
async function send(http: N8nHttp, req: VippsRequest): Promise<AttemptResult> {
	let answer: IN8nHttpFullResponse;
	try {
		const headers = req.body === undefined ? req.headers : { ...req.headers, 'Content-Type': 'application/json' };
		// prettier-ignore
		answer = (await http.httpRequest({
			method: 'POST', url: req.url, headers, body: req.body, timeout: req.timeoutMs, abortSignal: req.signal,
			disableFollowRedirect: true, returnFullResponse: true, ignoreHttpStatusErrors: true,
			// The check-in id may come as raw text: read every body as text and parse it here.
			encoding: 'text', json: false,
		})) as IN8nHttpFullResponse;
	} catch (error) {
		// The status arrived but the body broke off: the answer counts (a 200 means Vipps took it).
		// Axios gives it as the response, or only on its Node request when it timed out reading the body.
		const { response, request } = error as { response?: { status?: unknown }; request?: { res?: { statusCode?: unknown } } };
		const status = response?.status ?? request?.res?.statusCode;
		return typeof status === 'number' && !req.signal?.aborted ? { status, body: '' } : failureOf(error, req.signal);
	}
	const headers = answer.headers as Record<string, string | undefined>;
	return { status: answer.statusCode, body: String(answer.body ?? ''), retryAfterMs: parseRetryAfter(headers['retry-after']), location: headers.location };
}

/** Vipps sends every value as a string, numbers included. */
const tokenSchema = z.object({ access_token: z.string().min(1), expires_in: z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(Number) });
/** The check-in id: a JSON string or `{ "id": … }`; spec-generated mocks send it as raw text. */
const checkInIdSchema = z.union([z.string().min(1), z.object({ id: z.string().min(1) }).transform((value) => value.id)]);
/** `timestamp` (Unix seconds, as a number or as text) is read by the operation, never trusted here. */
const qrExchangeSchema = z.object({ msisdn: z.string().min(1), version: z.string().optional(), timestamp: z.unknown().optional() });
export type QrExchangeResult = z.infer<typeof qrExchangeSchema>;

/** `http`: `this.helpers` of the running node; `maxRequestsPerSecond`: the user's cap for this client. */
export interface ApiCallOptions {
	http: N8nHttp;
	maxRequestsPerSecond?: number;
	timeoutMs: number;
	signal?: AbortSignal;
}

export type LoyaltyCheckIn = { phoneNumber: string; isMember: boolean; merchantSerialNumber?: string };
/** `checkInId` is null when a 2xx body held none that could be read; `possibleDuplicate`: sent again after an attempt that may have arrived. */
export type LoyaltyCheckInResult = { checkInId: string | null; attempts: number; possibleDuplicate: boolean };

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
		const { body, attempts, possibleDuplicate } = await this.call(VIPPS_PATHS.loyaltyCheckIn, this.payloadOf(checkIn), checkIn.merchantSerialNumber, 'the check-in', true);
		// A 2xx means Vipps took the check-in; an unreadable id is no reason to send it again.
		const text = body.trim();
		let checkInId: string | null = /^[\w-]{1,200}$/.test(text) ? text : null;
		try {
			const parsed = checkInIdSchema.safeParse(checkInId ?? JSON.parse(text));
			checkInId = parsed.success ? parsed.data : null;
		} catch {
			// Neither an id nor JSON: delivered, with no id to show.
		}
		return { checkInId, attempts, possibleDuplicate };
	}

	async exchangeQrCode(qrCode: string, merchantSerialNumber?: string): Promise<QrExchangeResult> {
		const { body } = await this.call(VIPPS_PATHS.qrExchange, { qrCode, requestedData: ['MSISDN'] }, merchantSerialNumber, 'the QR code exchange');
		const parsed = qrExchangeSchema.safeParse(words.parseJsonBody(body));
		if (!parsed.success) throw words.unexpectedBody('Vipps answered the QR code exchange', 'msisdn');
		return parsed.data;
	}

	/** The MSN a call sends: the per-item override, else the credential's, else none. */
	merchantSerialNumberFor(override: string | undefined): string | null {
		return override ?? this.credentials.merchantSerialNumber ?? null;
	}

	/** What a check-in request would look like, secrets replaced: for the dry run. */
	describeLoyaltyCheckIn(checkIn: LoyaltyCheckIn): { method: 'POST'; url: string; headers: Record<string, string>; body: unknown } {
		const headers = { Authorization: `Bearer ${REDACTED}`, 'Content-Type': 'application/json', ...this.headers(checkIn.merchantSerialNumber, REDACTED) };
		return { method: 'POST', url: `${this.credentials.baseUrl}/${VIPPS_PATHS.loyaltyCheckIn}`, headers, body: this.payloadOf(checkIn) };
	}

	/** `text` with the credential's secrets and every token of this execution replaced: the one redaction. */
	redact(text: string): string {
		return redactSecrets(text, this.credentials, [...this.tokensUsed]);
	}

	private payloadOf({ phoneNumber, isMember }: LoyaltyCheckIn) {
		return { phoneNumber, isMember };
	}

	/** An empty MSN header is invalid: left out when there is none. */
	private headers(msnOverride: string | undefined, subscriptionKey = this.credentials.subscriptionKey): Record<string, string> {
		const msn = this.merchantSerialNumberFor(msnOverride);
		return { 'Ocp-Apim-Subscription-Key': subscriptionKey, ...(msn ? { 'Merchant-Serial-Number': msn } : {}), ...this.credentials.systemHeaders };
	}

	/** `isCheckIn`: it shows on the customer's phone, and only production can take it. */
	private async call(path: string, payload: unknown, msnOverride: string | undefined, what: string, isCheckIn = false) {
		const { environment, baseUrl } = this.credentials;
		const token = await this.accessToken(msnOverride).catch((error: Error) => {
			throw error instanceof VippsError ? words.withAttempts(error, 0, false) : error;
		});
		return await sendWithRetries(this.options.http, {
			url: `${baseUrl}/${path}`,
			headers: this.headers(msnOverride),
			body: JSON.stringify(payload),
			timeoutMs: this.options.timeoutMs,
			signal: this.options.signal,
			what,
			notifiesCustomer: isCheckIn,
			explain: (status, body) => words.explainApiFailure(status, body, { what, environment, baseUrl, productionOnly: isCheckIn }),
			paced: { credentials: this.credentials, cap: this.cap },
			token,
			renewToken: async (rejected) => {
				// Vipps refused `rejected` (expired, revoked): this execution forgets it once; a token equal to it is not sent again.
				if (!this.renewedAfterRejection) accessTokenCache.invalidate(this.credentials, rejected);
				this.renewedAfterRejection = true;
				const current = await this.accessToken(msnOverride);
				return current === rejected ? undefined : current;
			},
		});
	}

	/**
	 * POST /accesstoken/get through the cache. The MSN header goes along only if a token must be
	 * fetched (partner keys send one); the token does not depend on it.
	 */
	private async accessToken(msnOverride: string | undefined): Promise<string> {
		if (this.tokenFailure) throw this.tokenFailure;
		const { credentials, options } = this;
		const fetchToken = async () => {
			const { body } = await sendWithRetries(options.http, {
				url: `${credentials.baseUrl}/${VIPPS_PATHS.accessToken}`,
				headers: { client_id: credentials.clientId, client_secret: credentials.clientSecret, ...this.headers(msnOverride) },
				timeoutMs: 30_000,
				what: words.TOKEN_REQUEST,
				notifiesCustomer: false,
				explain: (status, answer) => words.explainTokenFailure(status, answer, credentials.baseUrl),
			});
			const parsed = tokenSchema.safeParse(words.parseJsonBody(body));
			if (!parsed.success) throw words.unexpectedBody(`${credentials.baseUrl} answered ${words.TOKEN_REQUEST}`, 'access_token and expires_in');
			return { accessToken: parsed.data.access_token, expiresInSeconds: parsed.data.expires_in };
		};
		// One caller's cancel stops its own wait for the shared fetch, not the fetch; a cancelled caller starts none.
		const { signal } = options;
		if (signal?.aborted) throw words.cancelledError('The request');
		const token = await new Promise<string>((resolve, reject) => {
			const onAbort = () => reject(words.cancelledError('The request'));
			signal?.addEventListener('abort', onAbort, { once: true });
			accessTokenCache
				.getToken(credentials, fetchToken)
				.then(resolve, reject)
				.finally(() => signal?.removeEventListener('abort', onAbort));
		}).catch((error: Error) => {
			if (!signal?.aborted) this.tokenFailure = error;
			throw error;
		});
		this.tokensUsed.add(token);
		return token;
	}
}

/** Replaces every occurrence of the credential's secrets, wherever a text came from. */
export function redactSecrets(text: string, credentials: Pick<VippsCredentials, 'clientSecret' | 'subscriptionKey'>, extra: string[] = []): string {
	let result = text;
	// Longest first, so a secret that contains another is replaced whole.
	const secrets = [credentials.clientSecret, credentials.subscriptionKey, ...extra].sort((a, b) => b.length - a.length);
	for (const secret of secrets) {
		if (secret && secret.length >= 4) result = result.split(secret).join(REDACTED);
	}
	return result;
}
