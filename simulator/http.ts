import type { IncomingHttpHeaders } from 'http';

/** A fully read request, as the endpoint handlers see it. */
export interface IncomingCall {
	method: string;
	path: string;
	/** Lower-cased names, unredacted values. */
	headers: Record<string, string>;
	rawBody: string;
}

/** What to write back: status, headers and a complete body ('' for none). */
export interface Reply {
	status: number;
	headers: Record<string, string>;
	body: string;
}

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

export function jsonReply(status: number, value: unknown, contentType = JSON_CONTENT_TYPE): Reply {
	return { status, headers: { 'Content-Type': contentType }, body: JSON.stringify(value) };
}

export function emptyReply(status: number, headers: Record<string, string> = {}): Reply {
	return { status, headers, body: '' };
}

export function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
	const flat: Record<string, string> = {};
	for (const [name, value] of Object.entries(headers)) {
		if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
	}
	return flat;
}

/** Parses a body as JSON; undefined when it is empty or not JSON. */
export function parseJson(rawBody: string): unknown {
	if (rawBody.trim() === '') return undefined;
	try {
		return JSON.parse(rawBody) as unknown;
	} catch {
		return undefined;
	}
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True when Content-Type names application/json, whatever its parameters (charset). */
export function hasJsonContentType(headers: Record<string, string>): boolean {
	const mediaType = (headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
	return mediaType === 'application/json';
}
