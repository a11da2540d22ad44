/**
 * Translates what Vipps (or the network) answered into what a no-code builder should do
 * next. Every message is built from known words plus fields of Vipps's own error bodies;
 * `redactSecrets` is applied at the end so no key can slip through an echoed body.
 */
import type { TransportFailure } from './retryPolicy';
import type { VippsCredentials, VippsEnvironment } from './vippsCredentials';

export interface VippsErrorDetails {
	description: string;
	/** The HTTP status Vipps answered, when there was one. */
	httpCode?: string;
	/** Vipps's own error body (parsed, secrets removed), for the error's details panel. */
	vippsResponse?: unknown;
}

export class VippsError extends Error {
	constructor(
		message: string,
		readonly details: VippsErrorDetails,
	) {
		super(message);
		this.name = 'VippsError';
	}
}

const KEYS_LOCATION =
	'The keys are in the Vipps MobilePay portal (portal.vippsmobilepay.com): For developers → API keys → the sales unit → Show keys.';

const ENVIRONMENT_HINT =
	'Test keys only work with Environment "Test (MT)", production keys only with "Production".';

export function parseJsonBody(body: string): unknown {
	try {
		return JSON.parse(body);
	} catch {
		return body === '' ? undefined : body;
	}
}

function field(body: unknown, name: string): string | undefined {
	if (body && typeof body === 'object' && name in body) {
		const value = (body as Record<string, unknown>)[name];
		return typeof value === 'string' ? value : undefined;
	}
	return undefined;
}

/** API Management answers a wrong Ocp-Apim-Subscription-Key itself, before Vipps sees the call. */
function isSubscriptionKeyRejection(body: unknown): boolean {
	return /subscription key/i.test(field(body, 'message') ?? '');
}

function subscriptionKeyError(status: number, body: unknown): VippsError {
	return new VippsError('Vipps rejected the Subscription Key (Ocp-Apim-Subscription-Key)', {
		description: `Check the credential's Subscription Key: use the primary key of the sales unit that the Client ID belongs to. ${KEYS_LOCATION} ${ENVIRONMENT_HINT}`,
		httpCode: String(status),
		vippsResponse: body,
	});
}

function unavailableError(what: string, status: number, body: unknown, attempts: number): VippsError {
	if (status === 429) {
		return new VippsError(`Vipps kept throttling ${what} (429 Too Many Requests) after ${attempts} attempts`, {
			description:
				"The API gateway limits how many requests a key may send. Lower the node's Concurrency option or set Max Requests per Second, then run the failed items again.",
			httpCode: '429',
			vippsResponse: body,
		});
	}
	return new VippsError(`Vipps was unavailable for ${what} (HTTP ${status}) after ${attempts} attempts`, {
		description: 'This is usually brief. Run the failed items again in a few minutes.',
		httpCode: String(status),
		vippsResponse: body,
	});
}

function notFoundError(what: string, baseUrl: string, status: number): VippsError {
	return new VippsError(`Nothing at ${baseUrl} answers ${what} (HTTP ${status})`, {
		description:
			"Check the credential's Environment; with Custom Base URL, give the address of a Vipps API (or of the local simulator) without a path.",
		httpCode: String(status),
	});
}

/** POST /accesstoken/get failed: say which part of the credential is wrong. */
export function explainTokenFailure(status: number, body: unknown, baseUrl: string, attempts: number): VippsError {
	const aadError = field(body, 'error');
	const aadText = `${aadError ?? ''} ${field(body, 'error_description') ?? ''}`;
	if (isSubscriptionKeyRejection(body)) return subscriptionKeyError(status, body);
	if (/AADSTS700016|unauthorized_client/.test(aadText)) {
		return new VippsError('Vipps does not know this Client ID', {
			description: `Check the credential's Client ID. ${KEYS_LOCATION} ${ENVIRONMENT_HINT}`,
			httpCode: String(status),
			vippsResponse: body,
		});
	}
	if (/AADSTS7000215|invalid_client/.test(aadText)) {
		return new VippsError('Vipps rejected the Client Secret', {
			description: `Check the credential's Client Secret; if it was regenerated in the portal, paste the new one. ${KEYS_LOCATION}`,
			httpCode: String(status),
			vippsResponse: body,
		});
	}
	if (status === 429 || status >= 502) return unavailableError('the access token request', status, body, attempts);
	if (status === 404) return notFoundError('the access token request', baseUrl, status);
	if (status === 400) {
		return new VippsError('Vipps refused the access token request (400 Bad Request)', {
			description: `${field(body, 'error_description') ?? field(body, 'detail') ?? field(body, 'message') ?? 'No reason was given.'} Check the Merchant Serial Number and the Vipps-System-* values in the credential.`,
			httpCode: '400',
			vippsResponse: body,
		});
	}
	if (status === 401 || status === 403) {
		return new VippsError(`Vipps rejected the API keys (HTTP ${status})`, {
			description: `Check Client ID, Client Secret and Subscription Key. ${KEYS_LOCATION} ${ENVIRONMENT_HINT}`,
			httpCode: String(status),
			vippsResponse: body,
		});
	}
	return new VippsError(`Vipps could not issue an access token (HTTP ${status})`, {
		description: 'Try again later; if it persists, contact Vipps MobilePay with the time of the failure.',
		httpCode: String(status),
		vippsResponse: body,
	});
}

export interface ApiCallContext {
	/** e.g. "the check-in" */
	what: string;
	environment: VippsEnvironment;
	baseUrl: string;
	attempts: number;
	/** Check-in: the Test environment answers 500 by design. */
	productionOnly?: boolean;
}

/** A Vipps API call (check-in, QR exchange) answered with an error status. */
export function explainApiFailure(status: number, body: unknown, context: ApiCallContext): VippsError {
	const { what } = context;
	if (status === 400) return badRequestError(what, body);
	if (status === 401 || status === 403) {
		if (isSubscriptionKeyRejection(body)) return subscriptionKeyError(status, body);
		return new VippsError(`Vipps refused ${what} (HTTP ${status}), even with a fresh access token`, {
			description:
				'The keys can fetch an access token but may not use this API. Ask Vipps MobilePay to activate the API for this sales unit, and check that the Merchant Serial Number belongs to the same sales unit as the keys.',
			httpCode: String(status),
			vippsResponse: body,
		});
	}
	if (status === 500 && context.productionOnly && context.environment === 'test') {
		return new VippsError('Check-in only works in production: the Vipps test environment (MT) always answers 500', {
			description:
				'This is how Vipps built it, not a fault in your data. Switch the credential\'s Environment to "Production" with production keys — a check-in moves no money, and Vipps says testing in production is safe — or try the workflow against the local simulator with "Custom Base URL".',
			httpCode: '500',
		});
	}
	if (status === 429 || status >= 502) return unavailableError(what, status, body, context.attempts);
	if (status === 404) return notFoundError(what, context.baseUrl, status);
	return new VippsError(`Vipps could not process ${what} (HTTP ${status})`, {
		description: 'Try again later; if it persists, contact Vipps MobilePay with the time and the Merchant Serial Number.',
		httpCode: String(status),
		vippsResponse: body,
	});
}

/** 400: RFC 7807 problem details (check-in: invalidParams; QR API: extraDetails). */
function badRequestError(what: string, body: unknown): VippsError {
	const title = field(body, 'title') ?? 'Bad Request';
	const lines: string[] = [];
	for (const key of ['invalidParams', 'extraDetails']) {
		const params = (body as Record<string, unknown> | undefined)?.[key];
		if (Array.isArray(params)) {
			for (const param of params) {
				lines.push(`${field(param, 'name') ?? '?'}: ${field(param, 'reason') ?? 'invalid'}`);
			}
		}
	}
	const detail = field(body, 'detail');
	if (detail && detail !== 'BadRequest') lines.push(detail);
	return new VippsError(`Vipps rejected ${what}: ${title}`, {
		description: lines.length ? lines.join('\n') : 'Vipps gave no further reason.',
		httpCode: '400',
		vippsResponse: body,
	});
}

export function cancelledError(what: string): VippsError {
	return new VippsError(`${what} was cancelled with the workflow execution`, {
		description: 'Nothing more was sent for this item.',
	});
}

const CONNECTION_HINT =
	"Check the credential's Environment (and Custom Base URL, if used), the network of the n8n server, and n8n's proxy settings (HTTP_PROXY / HTTPS_PROXY / NO_PROXY).";

/** No usable HTTP answer at all. */
export function explainTransportFailure(
	failure: TransportFailure,
	url: string,
	what: string,
	timeoutMs: number,
	attempts: number,
): VippsError {
	const host = safeHost(url);
	const tried = attempts > 1 ? ` (tried ${attempts} times)` : '';
	switch (failure.kind) {
		case 'cancelled':
			return cancelledError(what);
		case 'timeout':
			return new VippsError(`Vipps did not answer ${what} within ${timeoutMs} ms${tried}`, {
				description:
					"Vipps may still have received it: a check-in then shows up once more when sent again, which is harmless (no money moves). Raise the node's Timeout option if this repeats.",
			});
		case 'connectionRefused':
			return new VippsError(`Could not connect to ${host}: the connection was refused${tried}`, { description: CONNECTION_HINT });
		case 'connectionReset':
			return new VippsError(`The connection to ${host} broke off during ${what}${tried}`, {
				description: 'Usually a brief network fault: run the failed items again.',
			});
		default:
			return permanentFailure(failure, url, host, tried);
	}
}

/**
 * Failures that sending again cannot mend: say what to change. Error codes go into the
 * description: n8n replaces a message that contains one (ENOTFOUND, EAI_AGAIN…) with its own words.
 */
function permanentFailure(failure: TransportFailure, url: string, host: string, tried: string): VippsError {
	const { code } = failure;
	if (/^Ssrf/.test(code)) {
		// n8n matches a literal IP address only against the allowed IP ranges, a name against the allowed hostnames.
		const hostname = safeHostname(url);
		const allow = /^[\d.]+$|:/.test(hostname)
			? `N8N_SSRF_ALLOWED_IP_RANGES (e.g. ${hostname.includes(':') ? `${hostname}/128` : `${hostname}/32`})`
			: `N8N_SSRF_ALLOWED_HOSTNAMES (e.g. ${hostname})`;
		return new VippsError(`n8n's SSRF protection blocked the request to ${host}`, {
			description: `${failure.description ?? ''} The n8n administrator can allow it with ${allow}; the Vipps API itself (api.vipps.no) is a public address and is not blocked.`.trim(),
		});
	}
	if (code === 'ENOTFOUND') {
		return new VippsError(`The host ${host} was not found`, {
			description: "DNS knows no such name (ENOTFOUND). Check the spelling of the credential's Custom Base URL, or the n8n server's DNS.",
		});
	}
	if (code === 'ERR_INVALID_URL') {
		return new VippsError('The Vipps API address is not a valid URL', {
			description: "Check the credential's Custom Base URL: e.g. https://api.vipps.no or http://127.0.0.1:8080.",
		});
	}
	if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|EPROTO/.test(code)) {
		return new VippsError(`The TLS certificate of ${host} is not trusted`, {
			description: `${code}. For a proxy or simulator with its own certificate, give the n8n server its CA with NODE_EXTRA_CA_CERTS. Vipps's own addresses have public certificates: check that the Custom Base URL points at them.`,
		});
	}
	return new VippsError(`Could not reach ${host}${tried}`, { description: `${code}. ${CONNECTION_HINT}` });
}

function safeHostname(url: string): string {
	try {
		return new URL(url).hostname.replace(/^\[|\]$/g, '');
	} catch {
		return '';
	}
}

function safeHost(url: string): string {
	try {
		return new URL(url).host;
	} catch {
		return 'the Vipps API';
	}
}

/** Replaces every occurrence of the credential's secrets, wherever a text came from. */
export function redactSecrets(text: string, credentials: Pick<VippsCredentials, 'clientSecret' | 'subscriptionKey'>, extra: string[] = []): string {
	let result = text;
	// Longest first, so a secret that contains another is replaced whole.
	const secrets = [credentials.clientSecret, credentials.subscriptionKey, ...extra].sort((a, b) => b.length - a.length);
	for (const secret of secrets) {
		if (secret && secret.length >= 4) result = result.split(secret).join('[redacted]');
	}
	return result;
}
