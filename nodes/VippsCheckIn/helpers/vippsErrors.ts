/**
 * Translates what Vipps (or the network) answered into what a no-code builder should do next.
 * Every message is built from known words plus fields of Vipps's own error bodies; the transport
 * removes secrets where errors leave it (`redactSecrets`), so no key slips through an echoed body.
 */
import type { Failure } from '../transport/retryPolicy';
import type { VippsEnvironment } from './vippsCredentials';

export interface VippsErrorDetails {
	description: string;
	/** The HTTP status Vipps answered, when there was one. */
	httpCode?: string;
	/** Vipps's own error body (parsed, secrets removed), for the error's details panel. */
	vippsResponse?: unknown;
	/** HTTP attempts made for this request (0: nothing was sent). Set by the transport for every failed call. */
	attempts?: number;
	/** True when an attempt may have reached Vipps without an answer: the customer may have seen the check-in. */
	possibleDuplicate?: boolean;
	/** A closed gateway: when Vipps's gateway takes requests again (ISO time). */
	retryAt?: string;
}

export class VippsError extends Error {
	override name = 'VippsError';

	constructor(message: string, readonly details: VippsErrorDetails) {
		super(message);
	}
}

function problem(message: string, description: string, status?: number, vippsResponse?: unknown): VippsError {
	return new VippsError(message, { description, httpCode: status === undefined ? undefined : String(status), vippsResponse });
}

const KEYS_LOCATION = 'The keys are in the Vipps MobilePay portal (portal.vippsmobilepay.com): For developers → API keys → the sales unit → Show keys.';
const ENVIRONMENT_HINT = 'Test keys only work with Environment "Test (MT)", production keys only with "Production".';
const CONNECTION_HINT = "Check the credential's Environment (and Custom Base URL, if used), the network of the n8n server, and n8n's proxy settings (HTTP_PROXY / HTTPS_PROXY / NO_PROXY).";

export const TOKEN_REQUEST = 'the access token request';
const THROTTLED = "The API gateway limits how many requests a key may send. Lower the node's Concurrency option or set Max Requests per Second, then run the failed items again.";
const TOKEN_THROTTLED = 'It is one request shared by every execution with these keys; the gateway refused it for two minutes. Run the workflow again in a few minutes.';

export function parseJsonBody(body: string): unknown {
	try {
		return JSON.parse(body);
	} catch {
		return body === '' ? undefined : body;
	}
}

function field(body: unknown, name: string): string | undefined {
	const value = body && typeof body === 'object' ? (body as Record<string, unknown>)[name] : undefined;
	return typeof value === 'string' ? value : undefined;
}

/** API Management answers a wrong Ocp-Apim-Subscription-Key itself, before Vipps sees the call. */
export function isSubscriptionKeyRejection(body: unknown): boolean {
	return /subscription key/i.test(field(body, 'message') ?? '');
}

/** Failures any call can meet: a wrong subscription key, throttling, an outage, a wrong address. */
function commonFailure(what: string, status: number, body: unknown, baseUrl: string): VippsError {
	if (isSubscriptionKeyRejection(body)) {
		return problem('Vipps rejected the Subscription Key (Ocp-Apim-Subscription-Key)', `Check the credential's Subscription Key: use the primary key of the sales unit that the Client ID belongs to. ${KEYS_LOCATION} ${ENVIRONMENT_HINT}`, status, body);
	}
	if (status === 429) return problem(`Vipps kept throttling ${what} (429 Too Many Requests)`, what === TOKEN_REQUEST ? TOKEN_THROTTLED : THROTTLED, status, body);
	if (status >= 502) return problem(`Vipps was unavailable for ${what} (HTTP ${status})`, 'This is usually brief. Run the failed items again in a few minutes.', status, body);
	if (status === 404) return problem(`Nothing at ${baseUrl} answers ${what} (HTTP ${status})`, "Check the credential's Environment; with Custom Base URL, give the address of a Vipps API (or of the local simulator) without a path.", status);
	return problem(`Vipps could not process ${what} (HTTP ${status})`, 'Try again later; if it persists, contact Vipps MobilePay with the time and the Merchant Serial Number.', status, body);
}

/** POST /accesstoken/get failed: say which part of the credential is wrong. */
export function explainTokenFailure(status: number, body: unknown, baseUrl: string): VippsError {
	const aadText = `${field(body, 'error') ?? ''} ${field(body, 'error_description') ?? ''}`;
	if (isSubscriptionKeyRejection(body)) return commonFailure(TOKEN_REQUEST, status, body, baseUrl);
	if (/AADSTS700016|unauthorized_client/.test(aadText)) {
		return problem('Vipps does not know this Client ID', `Check the credential's Client ID. ${KEYS_LOCATION} ${ENVIRONMENT_HINT}`, status, body);
	}
	if (/AADSTS7000215|invalid_client/.test(aadText)) {
		return problem('Vipps rejected the Client Secret', `Check the credential's Client Secret; if it was regenerated in the portal, paste the new one. ${KEYS_LOCATION}`, status, body);
	}
	if (status === 400) {
		const reason = field(body, 'error_description') ?? field(body, 'detail') ?? field(body, 'message') ?? 'No reason was given.';
		return problem('Vipps refused the access token request (400 Bad Request)', `${reason} Check the Merchant Serial Number and the Vipps-System-* values in the credential.`, status, body);
	}
	if (status === 401 || status === 403) {
		return problem(`Vipps rejected the API keys (HTTP ${status})`, `Check Client ID, Client Secret and Subscription Key. ${KEYS_LOCATION} ${ENVIRONMENT_HINT}`, status, body);
	}
	return commonFailure(TOKEN_REQUEST, status, body, baseUrl);
}

export interface ApiCallContext {
	/** e.g. "the check-in" */
	what: string;
	environment: VippsEnvironment;
	baseUrl: string;
	/** Check-in: the Test environment answers 500 by design. */
	productionOnly?: boolean;
}

/** A Vipps API call (check-in, QR exchange) answered with an error status. */
export function explainApiFailure(status: number, body: unknown, context: ApiCallContext): VippsError {
	const { what } = context;
	if (status === 400) return badRequestError(what, body);
	const access =
		'check that the Merchant Serial Number belongs to the same sales unit as the keys (partners: that the merchant gave you access), and ask Vipps MobilePay to activate the API for this sales unit.';
	if (status === 401 && !isSubscriptionKeyRejection(body)) {
		return problem(`Vipps refused ${what} (HTTP 401), even with a fresh access token`, `The keys can fetch an access token but may not use this API: ${access}`, status, body);
	}
	if (status === 403 && !isSubscriptionKeyRejection(body)) {
		return problem(`Vipps refused ${what} (HTTP 403): these keys may not use this API or this Merchant Serial Number`, `To fix it, ${access}`, status, body);
	}
	if (status === 500 && context.productionOnly && context.environment === 'test') {
		return problem('Check-in only works in production: the Vipps test environment (MT) always answers 500',
			'This is how Vipps built it, not a fault in your data. Switch the credential\'s Environment to "Production" with production keys — a check-in moves no money, and Vipps says testing in production is safe — or try the workflow against the local simulator with "Custom Base URL".', status);
	}
	return commonFailure(what, status, body, context.baseUrl);
}

/** 400: RFC 7807 problem details (check-in: invalidParams; QR API: extraDetails). */
function badRequestError(what: string, body: unknown): VippsError {
	const lines: string[] = [];
	for (const key of ['invalidParams', 'extraDetails']) {
		const params = (body as Record<string, unknown> | undefined)?.[key];
		if (Array.isArray(params)) lines.push(...params.map((param) => `${field(param, 'name') ?? '?'}: ${field(param, 'reason') ?? 'invalid'}`));
	}
	const detail = field(body, 'detail');
	if (detail && detail !== 'BadRequest') lines.push(detail);
	return problem(`Vipps rejected ${what}: ${field(body, 'title') ?? 'Bad Request'}`, lines.length ? lines.join('\n') : 'Vipps gave no further reason.', 400, body);
}

/** Vipps never redirects: a 3xx means a wrong (or hostile) base URL, and nothing follows it. */
export function redirectError(what: string, status: number, location: string | undefined, url: string): VippsError {
	const target = location === undefined ? undefined : hostOf(location, 'host', url);
	const message = `${hostOf(url, 'host')} answered ${what} with a redirect (HTTP ${status}) ${target ? `to ${target}` : 'without a Location'}`;
	return problem(message, `Vipps APIs never redirect: check the credential's Custom Base URL. Nothing was sent${target ? ` to ${target}` : ' elsewhere'}.`, status);
}

/** A 2xx whose body is not what the API sends: the base URL points at something else. */
export function unexpectedBody(whoAnsweredWhat: string, expected: string): VippsError {
	return problem(`${whoAnsweredWhat} with an unexpected body`, `Expected JSON with ${expected}. Check the credential's Environment or Custom Base URL: it should point at a Vipps API.`, 200);
}

export function cancelledError(what: string): VippsError {
	return problem(`${what} was cancelled with the workflow execution`, 'Nothing more was sent for this item.');
}

/** No usable HTTP answer at all. */
export function explainTransportFailure(failure: Failure, url: string, what: string, timeoutMs: number): VippsError {
	const host = hostOf(url, 'host');
	const { code } = failure;
	if (code === 'ABORTED') return cancelledError(what);
	if (code === 'ECONNABORTED' || code === 'ETIMEDOUT') return problem(`Vipps did not answer ${what} within ${timeoutMs} ms`, "Raise the node's Timeout option if this repeats.");
	if (code === 'ECONNREFUSED') return problem(`Could not connect to ${host}: the connection was refused`, CONNECTION_HINT);
	if (code === 'ECONNRESET' || code === 'EPIPE') return problem(`The connection to ${host} broke off during ${what}`, 'Usually a brief network fault: run the failed items again.');
	// Sending again cannot mend these: say what to change. Error codes go into the description:
	// n8n replaces a message that contains one (ENOTFOUND, EAI_AGAIN…) with its own words.
	if (/^Ssrf/.test(code)) {
		// n8n matches a literal IP address only against the allowed IP ranges, a name against the allowed hostnames.
		const hostname = hostOf(url, 'hostname').replace(/^\[|\]$/g, '');
		const allow = /^[\d.]+$|:/.test(hostname)
			? `N8N_SSRF_ALLOWED_IP_RANGES (e.g. ${hostname}/${hostname.includes(':') ? 128 : 32})`
			: `N8N_SSRF_ALLOWED_HOSTNAMES (e.g. ${hostname})`;
		const description = `${failure.description ?? ''} The n8n administrator can allow it with ${allow}; the Vipps API itself (api.vipps.no) is a public address and is not blocked.`;
		return problem(`n8n's SSRF protection blocked the request to ${host}`, description.trim());
	}
	if (code === 'ENOTFOUND') return problem(`The host ${host} was not found`, "DNS knows no such name (ENOTFOUND). Check the spelling of the credential's Custom Base URL, or the n8n server's DNS.");
	if (code === 'ERR_INVALID_URL') return problem('The Vipps API address is not a valid URL', "Check the credential's Custom Base URL: e.g. https://api.vipps.no or http://127.0.0.1:8080.");
	if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|EPROTO/.test(code)) {
		return problem(`The TLS certificate of ${host} is not trusted`,
			`${code}. For a proxy or simulator with its own certificate, give the n8n server its CA with NODE_EXTRA_CA_CERTS. Vipps's own addresses have public certificates: check that the Custom Base URL points at them.`);
	}
	return problem(`Could not reach ${host}`, `${code}. ${CONNECTION_HINT}`);
}

/** A 429 whose Retry-After ends beyond the request's retry budget: an answer, not a delay. */
export function closedGatewayError(what: string, until: number): VippsError {
	const retryAt = new Date(until).toISOString();
	return new VippsError(`Vipps's gateway takes requests again at ${retryAt.replace('.000Z', 'Z')}: it refused ${what} until then (429 Too Many Requests)`, {
		description: "The gateway is closed for these keys (a spent quota or maintenance). Nothing more was sent; run the failed items again after that time.",
		httpCode: '429',
		retryAt,
	});
}

/**
 * The facts of a failed call on its error: `attempts` HTTP attempts made, and `possibleDuplicate`
 * (the transport's rule). The message says how many attempts it took and, for a possible
 * duplicate, that the customer may have seen the check-in.
 */
export function withAttempts(error: VippsError, attempts: number, possibleDuplicate: boolean): VippsError {
	const message = attempts > 1 ? `${error.message}, after ${attempts} attempts` : error.message;
	const arrival = possibleDuplicate ? ' Vipps may have received it all the same: the customer may have seen the check-in. Check before sending it again.' : '';
	return new VippsError(message, { ...error.details, description: `${error.details.description}${arrival}`, attempts, possibleDuplicate });
}

/** The host (or hostname) of `url`, never its user name or password. */
function hostOf(url: string, part: 'host' | 'hostname', base?: string): string {
	try {
		return new URL(url, base)[part];
	} catch {
		return 'the Vipps API';
	}
}
