/**
 * A HubSpot "Send a webhook" call signed as HubSpot signs it (request signature v3), for the
 * in-process and the real-n8n tests of examples/crm-contact-updated.json: the signature is the
 * base64 HMAC-SHA256, keyed with the app's client secret, of method + URI + raw body + timestamp.
 */
import { createHmac } from 'node:crypto';

/** The app secret the tests put in the example's Crypto credential ("Hmac Secret"). */
export const HUBSPOT_APP_SECRET = 'test-hubspot-app-secret-not-a-real-one';

export interface HubSpotCall {
	/** The body bytes exactly as sent. */
	rawBody: string;
	headers: Record<string, string>;
}

/**
 * `contact` as HubSpot posts it to `uri`, with the v3 signature headers. The body is written with
 * spacing and an escaped character JSON.stringify would not reproduce, so only a check over the
 * raw bytes accepts it. `signedAt` (ms) defaults to now; `secret` to the tests' app secret.
 */
export function signedHubSpotCall(uri: string, contact: object, options: { secret?: string; signedAt?: number } = {}): HubSpotCall {
	const rawBody = JSON.stringify(contact, null, 1).replace(/ø/g, '\\u00f8');
	const timestamp = String(options.signedAt ?? Date.now());
	const signature = createHmac('sha256', options.secret ?? HUBSPOT_APP_SECRET)
		.update(`POST${uri}${rawBody}${timestamp}`, 'utf8')
		.digest('base64');
	return {
		rawBody,
		headers: {
			'content-type': 'application/json',
			'x-hubspot-signature-v3': signature,
			'x-hubspot-request-timestamp': timestamp,
		},
	};
}
