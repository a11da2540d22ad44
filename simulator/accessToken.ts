import { randomUUID } from 'crypto';
import type { SimulatorContext } from './context';
import { checkSubscriptionKey, gatewayError } from './gateway';
import { jsonReply, type IncomingCall, type Reply } from './http';
import { SIMULATOR_TENANT_ID, TOKEN_RESOURCE } from './tokenStore';
import { checkVippsHeaders } from './vippsHeaders';

const GUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** POST /accesstoken/get: API Management checks the subscription key, then Azure AD checks client id and secret. */
export function handleAccessToken(call: IncomingCall, context: SimulatorContext): Reply {
	return (
		checkSubscriptionKey(call.headers, context.keys.subscriptionKey) ??
		checkTokenRequestHeaders(call.headers) ??
		checkClientCredentials(call.headers, context) ??
		issueToken(call.headers['client_id'], context)
	);
}

function checkTokenRequestHeaders(headers: Record<string, string>): Reply | undefined {
	const problems = checkVippsHeaders(headers);
	if (problems.length === 0) return undefined;
	return gatewayError(400, problems.map((problem) => problem.reason).join(' '));
}

function checkClientCredentials(headers: Record<string, string>, context: SimulatorContext): Reply | undefined {
	const clientId = headers['client_id'];
	const clientSecret = headers['client_secret'];
	const now = context.now();
	if (clientId === undefined) {
		return azureAdError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_id'.", now);
	}
	if (clientId !== context.keys.clientId) {
		return azureAdError(401, 'unauthorized_client', 700016, unknownApplicationMessage(clientId), now);
	}
	if (clientSecret === undefined) {
		return azureAdError(
			401,
			'invalid_client',
			7000218,
			"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
			now,
		);
	}
	if (clientSecret !== context.keys.clientSecret) {
		return azureAdError(
			401,
			'invalid_client',
			7000215,
			`Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
			now,
		);
	}
	return undefined;
}

/** Azure AD echoes the identifier; this does so only for GUIDs, as users who swap id and secret would see their secret. */
function unknownApplicationMessage(clientId: string): string {
	const identifier = GUID_PATTERN.test(clientId) ? `'${clientId}'` : '(not a GUID; not shown)';
	return (
		`Application with identifier ${identifier} was not found in the directory '${SIMULATOR_TENANT_ID}'. ` +
		'This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. ' +
		'You may have sent your authentication request to the wrong tenant.'
	);
}

/** Azure AD's error body, with its trace and correlation ids repeated inside the description as Azure does. */
function azureAdError(status: number, error: string, code: number, message: string, nowMs: number): Reply {
	const traceId = randomUUID();
	const correlationId = randomUUID();
	const timestamp = azureTimestamp(nowMs);
	return jsonReply(status, {
		error,
		error_description: `AADSTS${code}: ${message}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
		error_codes: [code],
		timestamp,
		trace_id: traceId,
		correlation_id: correlationId,
		error_uri: `https://login.microsoftonline.com/error?code=${code}`,
	});
}

/** '2023-05-06 06:03:00Z', Azure AD's format. */
function azureTimestamp(nowMs: number): string {
	return new Date(nowMs).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

/** The real token body: every value a string, numbers included. */
function issueToken(clientId: string, context: SimulatorContext): Reply {
	const lifetime = context.tokenLifetimeSeconds;
	const notBefore = Math.floor(context.now() / 1000);
	return jsonReply(
		200,
		{
			token_type: 'Bearer',
			expires_in: String(lifetime),
			ext_expires_in: String(lifetime),
			expires_on: String(notBefore + lifetime),
			not_before: String(notBefore),
			resource: TOKEN_RESOURCE,
			access_token: context.tokens.issue(clientId, notBefore, lifetime),
		},
		'application/json;charset=UTF-8',
	);
}
