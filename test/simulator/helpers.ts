import { readFileSync } from 'node:fs';
import { Agent, request, type Dispatcher } from 'undici';
import { PATHS, type VippsSimulator } from '../../simulator/VippsSimulator';

export interface Answer {
	status: number;
	headers: Record<string, string | string[] | undefined>;
	text: string;
}

const trustingClients = new WeakMap<VippsSimulator, Dispatcher>();

/** Over HTTPS, a client that trusts the simulator's certificate (and nothing else it was not told to). */
export function clientTrusting(simulator: VippsSimulator): Dispatcher | undefined {
	if (!simulator.caCertPath) return undefined;
	let client = trustingClients.get(simulator);
	if (!client) {
		client = new Agent({ connect: { ca: readFileSync(simulator.caCertPath, 'utf8') } });
		trustingClients.set(simulator, client);
	}
	return client;
}

/**
 * A POST from a real HTTP client, body read in full; over HTTPS it trusts the simulator's certificate.
 * Each on a connection of its own (`reset`): after the event loop stalls past the server's 5 s
 * keep-alive (a contract compiling on a busy machine took 7–10 s), the client could write to a kept
 * connection in the very turn the server closes it as idle, and the request met ECONNRESET.
 */
export async function post(
	simulator: VippsSimulator,
	path: string,
	headers: Record<string, string>,
	body?: string,
): Promise<Answer> {
	const dispatcher = clientTrusting(simulator);
	const response = await request(`${simulator.baseUrl}${path}`, { method: 'POST', headers, body, dispatcher, reset: true });
	return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
}

export function tokenHeaders(simulator: VippsSimulator): Record<string, string> {
	return {
		client_id: simulator.keys.clientId,
		client_secret: simulator.keys.clientSecret,
		'Ocp-Apim-Subscription-Key': simulator.keys.subscriptionKey,
	};
}

export async function fetchToken(simulator: VippsSimulator): Promise<string> {
	const answer = await post(simulator, PATHS.accessToken, tokenHeaders(simulator));
	expect(answer.status).toBe(200);
	return (JSON.parse(answer.text) as { access_token: string }).access_token;
}

export function apiHeaders(simulator: VippsSimulator, token: string): Record<string, string> {
	return {
		Authorization: `Bearer ${token}`,
		'Ocp-Apim-Subscription-Key': simulator.keys.subscriptionKey,
		'Content-Type': 'application/json',
	};
}

export const VALID_CHECK_IN = JSON.stringify({ phoneNumber: '4791234567', isMember: true });

export async function checkIn(simulator: VippsSimulator, token: string, body = VALID_CHECK_IN): Promise<Answer> {
	return post(simulator, PATHS.checkIn, apiHeaders(simulator, token), body);
}

/**
 * A valid check-in as undici sends it, the raw request promise (for faults that break the
 * connection); `reset` closes the connection after it, so no later request reuses it.
 */
export function startCheckIn(simulator: VippsSimulator, token: string, { reset = false } = {}): ReturnType<typeof request> {
	return request(`${simulator.baseUrl}${PATHS.checkIn}`, { method: 'POST', headers: apiHeaders(simulator, token), body: VALID_CHECK_IN, reset });
}

/** A clock the test moves by hand. */
export function manualClock(startMs = Date.UTC(2025, 0, 1, 12)): { now: () => number; advance: (ms: number) => void } {
	let nowMs = startMs;
	return {
		now: () => nowMs,
		advance: (ms) => {
			nowMs += ms;
		},
	};
}
