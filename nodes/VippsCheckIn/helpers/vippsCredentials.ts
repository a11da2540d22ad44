/**
 * The credential's data, checked once at the edge: every value here ends up in an HTTP header,
 * so nothing with a control character (CR/LF would split the header) or an over-long
 * Vipps-System-* value gets through. Messages name the field, never the secret value.
 */
import { version as n8nWorkflowVersion } from 'n8n-workflow/package.json';
import { z } from 'zod';

import { name as packageName, version as packageVersion } from '../../../package.json';

export const VIPPS_BASE_URLS = { production: 'https://api.vipps.no', test: 'https://apitest.vipps.no' } as const;

export type VippsEnvironment = keyof typeof VIPPS_BASE_URLS | 'custom';

export const PACKAGE_NAME = packageName;
export const PACKAGE_VERSION = packageVersion;

/** Vipps-System-* headers: at most 30 characters each (the OpenAPI contract's maxLength). */
const SYSTEM_HEADER_MAX_LENGTH = 30;

/**
 * A node cannot ask n8n for its version, and a verifiable node may not look for it on disk. n8n's
 * own n8n-workflow library (which the node runs against inside n8n) is released with n8n and
 * carries its minor version, e.g. 2.41.0 inside n8n 2.41.1: the closest safe stand-in.
 */
export const DEFAULT_SYSTEM_VERSION = n8nWorkflowVersion.slice(0, SYSTEM_HEADER_MAX_LENGTH);

export interface VippsCredentials {
	readonly environment: VippsEnvironment;
	/** Scheme, host and port only. */
	readonly baseUrl: string;
	readonly clientId: string;
	readonly clientSecret: string;
	readonly subscriptionKey: string;
	readonly merchantSerialNumber?: string;
	/** The four Vipps-System-* headers. */
	readonly systemHeaders: Readonly<Record<string, string>>;
}

export class InvalidCredentialsError extends Error {
	override name = 'InvalidCredentialsError';

	constructor(readonly problems: string[]) {
		super(`The Vipps MobilePay API credential is not valid: ${problems.join('; ')}`);
	}
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** Trimmed text with no control character: CR/LF must never reach a header. */
const singleLineText = (label: string) =>
	z.string({ required_error: `${label} is missing`, invalid_type_error: `${label} must be text` }).transform((value) => value.trim())
		.refine((value) => !CONTROL_CHARACTERS.test(value), { message: `${label} contains a line break or another control character (often a copy-paste slip)` });

/** Vipps's header values are ASCII; anything else is a paste slip, and Node's HTTP client refuses most of it. */
const headerValue = (label: string) =>
	singleLineText(label).refine((value) => !/[\u0080-\uffff]/.test(value), { message: `${label} contains an invisible or non-ASCII character, such as a zero-width space (often a copy-paste slip)` });

const requiredHeaderValue = (label: string) => headerValue(label).refine((value) => value !== '', { message: `${label} is empty` });

const systemHeaderValue = (label: string, fallback: string) =>
	headerValue(label).optional().transform((value) => value || fallback)
		.refine((value) => value.length <= SYSTEM_HEADER_MAX_LENGTH, { message: `${label} is longer than ${SYSTEM_HEADER_MAX_LENGTH} characters (Vipps's limit)` });

/**
 * Digits only. The access-token contract says 4–6, but sales units created after the
 * MobilePay merger can carry longer numbers: 4–7 are accepted and the API judges the rest.
 */
export function merchantSerialNumberProblem(value: string): string | undefined {
	if (/^[0-9]{4,7}$/.test(value)) return undefined;
	const digits = value.replace(/\D/g, '').length;
	return `must be 4 to 7 digits (found in the Vipps MobilePay portal under "For developers"); got ${value.length} characters, ${digits} of them digits`;
}

const credentialSchema = z
	.object({
		environment: z.enum(['production', 'test', 'custom'], { errorMap: () => ({ message: 'Environment must be Production, Test (MT) or Custom Base URL' }) }),
		customBaseUrl: z.string().optional(),
		clientId: requiredHeaderValue('Client ID'),
		clientSecret: requiredHeaderValue('Client Secret'),
		subscriptionKey: requiredHeaderValue('Subscription Key (Ocp-Apim-Subscription-Key)'),
		// Digits only, which also rules out any other character a header could not carry.
		merchantSerialNumber: singleLineText('Merchant Serial Number').optional().superRefine((value, ctx) => {
			const problem = value && !CONTROL_CHARACTERS.test(value) ? merchantSerialNumberProblem(value) : undefined;
			if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `Merchant Serial Number ${problem}` });
		}),
		systemName: systemHeaderValue('System Name', 'n8n'),
		systemVersion: systemHeaderValue('System Version', DEFAULT_SYSTEM_VERSION),
		pluginName: systemHeaderValue('Plugin Name', packageName),
		pluginVersion: systemHeaderValue('Plugin Version', packageVersion),
	})
	.superRefine((data, ctx) => {
		const problem = data.environment === 'custom' ? customBaseUrlProblem(data.customBaseUrl) : undefined;
		if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['customBaseUrl'], message: problem });
	});

/** Scheme, host and port: the node adds the paths, and a redirect is never followed. */
function customBaseUrlProblem(value = ''): string | undefined {
	const text = value.trim();
	if (!text) return 'Custom Base URL is empty (it is required when Environment is Custom Base URL)';
	let url: URL;
	try {
		url = new URL(text);
	} catch {
		return 'Custom Base URL is not a URL (expected e.g. http://127.0.0.1:8080)';
	}
	if (url.protocol !== 'http:' && url.protocol !== 'https:') return `Custom Base URL must start with http:// or https://, not ${url.protocol}//`;
	if (url.username || url.password) return 'Custom Base URL must not contain a user name or password';
	if (/[^/]/.test(url.pathname) || /[?#]/.test(text)) return `Custom Base URL must be scheme, host and port only (e.g. ${url.origin}), without a path, query or fragment`;
	return undefined;
}

/** Parses the decrypted credential data n8n hands the node; throws InvalidCredentialsError. */
export function parseVippsCredentials(data: Record<string, unknown>): VippsCredentials {
	const parsed = credentialSchema.safeParse(data);
	if (!parsed.success) throw new InvalidCredentialsError(parsed.error.issues.map((issue) => issue.message));
	const { environment, customBaseUrl, clientId, clientSecret, subscriptionKey, merchantSerialNumber, systemName, systemVersion, pluginName, pluginVersion } = parsed.data;
	return {
		environment,
		baseUrl: environment === 'custom' ? new URL(customBaseUrl!.trim()).origin : VIPPS_BASE_URLS[environment],
		clientId,
		clientSecret,
		subscriptionKey,
		merchantSerialNumber: merchantSerialNumber || undefined,
		systemHeaders: { 'Vipps-System-Name': systemName, 'Vipps-System-Version': systemVersion, 'Vipps-System-Plugin-Name': pluginName, 'Vipps-System-Plugin-Version': pluginVersion },
	};
}
