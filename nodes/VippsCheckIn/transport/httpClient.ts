/**
 * Raw HTTP through undici: one keep-alive connection pool for the whole n8n process, and the
 * proxy environment variables (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) honoured as n8n does.
 * Knows nothing of Vipps; failures come out as a TransportFailureKind the retry policy reads.
 */
import { EnvHttpProxyAgent, request } from 'undici';

import type { TransportFailureKind } from './retryPolicy';

/** More than the node's highest concurrency, so pacing, not the pool, is the bound. */
const MAX_CONNECTIONS_PER_ORIGIN = 256;
const KEEP_ALIVE_TIMEOUT_MS = 30_000;

let sharedDispatcher: EnvHttpProxyAgent | undefined;

function dispatcher(): EnvHttpProxyAgent {
	sharedDispatcher ??= new EnvHttpProxyAgent({
		connections: MAX_CONNECTIONS_PER_ORIGIN,
		keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
	});
	return sharedDispatcher;
}

export interface HttpRequest {
	method: 'POST';
	url: string;
	headers: Record<string, string>;
	body?: string;
	/** Applies to the wait for the response headers and to each pause within the body. */
	timeoutMs: number;
	signal?: AbortSignal;
}

export interface HttpResponse {
	status: number;
	headers: Record<string, string | string[] | undefined>;
	body: string;
}

export class HttpTransportError extends Error {
	constructor(
		readonly kind: TransportFailureKind,
		readonly code: string,
		readonly url: string,
	) {
		super(`${kind} (${code}) for ${url}`);
		this.name = 'HttpTransportError';
	}
}

export async function sendHttpRequest(req: HttpRequest): Promise<HttpResponse> {
	try {
		const response = await request(req.url, {
			method: req.method,
			headers: req.headers,
			body: req.body,
			dispatcher: dispatcher(),
			headersTimeout: req.timeoutMs,
			bodyTimeout: req.timeoutMs,
			signal: req.signal,
		});
		const body = await response.body.text();
		return { status: response.statusCode, headers: response.headers, body };
	} catch (error) {
		throw toTransportError(error, req);
	}
}

function toTransportError(error: unknown, req: HttpRequest): HttpTransportError {
	const code = errorCode(error);
	return new HttpTransportError(failureKind(code, req.signal), code, req.url);
}

/** The most specific error code: undici wraps socket errors, and the useful code may sit on the cause. */
function errorCode(error: unknown): string {
	// Duck-typed, not instanceof: errors raised inside Node's own modules may come from another realm.
	let current = error as { code?: unknown; cause?: unknown; name?: unknown } | undefined;
	let fallback: string | undefined;
	for (let depth = 0; depth < 3 && current && typeof current === 'object'; depth++) {
		if (typeof current.code === 'string') {
			if (current.code !== 'UND_ERR_SOCKET') return current.code;
			fallback ??= current.code;
		}
		current = current.cause as typeof current;
	}
	const name = (error as { name?: unknown } | undefined)?.name;
	return fallback ?? (typeof name === 'string' ? name : 'UNKNOWN');
}

function failureKind(code: string, signal: AbortSignal | undefined): TransportFailureKind {
	if (signal?.aborted) return 'cancelled';
	switch (code) {
		case 'UND_ERR_HEADERS_TIMEOUT':
		case 'UND_ERR_CONNECT_TIMEOUT':
			return 'timeoutBeforeResponse';
		case 'UND_ERR_BODY_TIMEOUT':
			return 'timeoutDuringResponse';
		case 'ECONNREFUSED':
			return 'connectionRefused';
		case 'ECONNRESET':
		case 'EPIPE':
		case 'UND_ERR_SOCKET':
		case 'UND_ERR_CLOSED':
			return 'connectionReset';
		case 'UND_ERR_INVALID_ARG':
		case 'UND_ERR_NOT_SUPPORTED':
		case 'ERR_INVALID_URL':
			return 'invalidRequest';
		default:
			return 'network';
	}
}
