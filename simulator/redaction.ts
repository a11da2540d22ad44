export const REDACTED = '[redacted]';

/** Headers whose value is a secret whatever it is (a wrong secret is still someone's secret). */
const SECRET_HEADERS = new Set([
	'authorization',
	'client_secret',
	'ocp-apim-subscription-key',
	'cookie',
	'proxy-authorization',
]);
/** Any JWT, wherever a client put it. */
const JWT_PATTERN = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;

/** Keeps every header present (so the contract can still be checked) but never a secret value. */
export function redactHeaders(headers: Record<string, string>, secrets: readonly string[]): Record<string, string> {
	const redacted: Record<string, string> = {};
	for (const [name, value] of Object.entries(headers)) {
		redacted[name] = SECRET_HEADERS.has(name) ? REDACTED : redactText(value, secrets);
	}
	return redacted;
}

/** Replaces known secrets and tokens that a client sent somewhere they do not belong. */
export function redactText(text: string, secrets: readonly string[]): string {
	return secrets
		.filter((secret) => secret !== '')
		.reduce((result, secret) => result.split(secret).join(REDACTED), text.replace(JWT_PATTERN, REDACTED));
}
