/**
 * VippsApiClient's facts that no workflow output shows: the retry budget counted from an item's
 * first attempt (on a fake clock, behind a slow cap), and a cancel while a written check-in was
 * under way (through n8n's own HTTP client, over loopback).
 */
import 'reflect-metadata';

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { OutboundHttp } from '@n8n/backend-network';
import { Container } from '@n8n/di';
import type { IHttpRequestOptions } from 'n8n-workflow';

import { VippsApiClient, type N8nHttp } from '../../nodes/VippsCheckIn/transport';
import { RETRY_POLICY } from '../../nodes/VippsCheckIn/transport/retryPolicy';
import type { VippsCredentials } from '../../nodes/VippsCheckIn/helpers/vippsCredentials';
import { VippsError } from '../../nodes/VippsCheckIn/helpers/vippsErrors';

let port = 20_000;
/** Each test its own credential target (its own token and pacer). */
const credentials = (baseUrl = `http://127.0.0.1:${port++}`): VippsCredentials => ({
	environment: 'custom',
	baseUrl,
	clientId: 'client-id',
	clientSecret: 'client-secret',
	subscriptionKey: 'subscription-key',
	systemHeaders: {},
});

describe('the retry budget starts at the first attempt, not in the queue', () => {
	beforeEach(() => jest.useFakeTimers({ now: Date.UTC(2026, 0, 1) }));
	afterEach(() => jest.useRealTimers());

	it(`behind Max Requests per Second 1, 130 items (the last queued for over ${RETRY_POLICY.budgetMs / 1000} s) each get their retry after a 503`, async () => {
		const seen = new Map<string, number>();
		const http: N8nHttp = {
			async httpRequest(options: IHttpRequestOptions) {
				if (options.url.endsWith('/accesstoken/get')) return { statusCode: 200, headers: {}, body: JSON.stringify({ access_token: 'token', expires_in: '3600' }) };
				const { phoneNumber } = JSON.parse(options.body as string) as { phoneNumber: string };
				const attempt = (seen.get(phoneNumber) ?? 0) + 1;
				seen.set(phoneNumber, attempt);
				return attempt === 1 ? { statusCode: 503, headers: {}, body: '' } : { statusCode: 200, headers: {}, body: `id-${phoneNumber}` };
			},
		};
		const client = new VippsApiClient(credentials(), { http, maxRequestsPerSecond: 1, timeoutMs: 1_000 });
		const results = Array.from({ length: 130 }, async (_, i) => await client.sendLoyaltyCheckIn({ phoneNumber: `47${90000000 + i}`, isMember: true }));
		results.forEach((result) => result.catch(() => undefined));
		await jest.advanceTimersByTimeAsync(400_000);
		const settled = await Promise.allSettled(results);
		expect(settled.filter((result) => result.status === 'rejected')).toEqual([]);
		for (const result of settled) expect((result as PromiseFulfilledResult<unknown>).value).toMatchObject({ attempts: 2, possibleDuplicate: true });
	});
});

describe('a request that notifies nobody is never a possible duplicate', () => {
	beforeEach(() => jest.useFakeTimers({ now: Date.UTC(2026, 0, 1) }));
	afterEach(() => jest.useRealTimers());

	it(`a QR code exchange answered 502 every time: ${RETRY_POLICY.maxAttempts} attempts, possibleDuplicate false, no word of a customer`, async () => {
		const http: N8nHttp = {
			async httpRequest(options: IHttpRequestOptions) {
				if (options.url.endsWith('/accesstoken/get')) return { statusCode: 200, headers: {}, body: JSON.stringify({ access_token: 'token', expires_in: '3600' }) };
				return { statusCode: 502, headers: {}, body: '' };
			},
		};
		const client = new VippsApiClient(credentials(), { http, timeoutMs: 1_000 });
		const exchanging = client.exchangeQrCode('https://qr.vipps.no/code').then(() => undefined, (e: unknown) => e);
		await jest.advanceTimersByTimeAsync(RETRY_POLICY.budgetMs);
		const error = (await exchanging) as VippsError;
		expect(error).toBeInstanceOf(VippsError);
		expect(error.message).toBe(`Vipps was unavailable for the QR code exchange (HTTP 502), after ${RETRY_POLICY.maxAttempts} attempts`);
		expect(error.details).toMatchObject({ attempts: RETRY_POLICY.maxAttempts, possibleDuplicate: false });
		expect(error.details.description).not.toContain('customer');
	});
});

describe('a cancel while a written check-in was under way', () => {
	let server: Server;
	let baseUrl: string;
	let received: () => void;

	beforeAll(async () => {
		// Answers the token request; reads a check-in whole and never answers it.
		server = createServer((req, res) => {
			req.resume();
			req.on('end', () => {
				if (req.url === '/accesstoken/get') res.end(JSON.stringify({ access_token: 'token', expires_in: '3600' }));
				else received();
			});
		});
		await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
		baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	});

	afterAll(async () => {
		server.closeAllConnections();
		await new Promise((resolve) => server.close(resolve));
	});

	it('fails with attempts 1 and possibleDuplicate true: it may have reached Vipps', async () => {
		const http: N8nHttp = { httpRequest: async (options) => await Container.get(OutboundHttp).requests().request(options) };
		const execution = new AbortController();
		const client = new VippsApiClient(credentials(baseUrl), { http, timeoutMs: 10_000, signal: execution.signal });
		const arrived = new Promise<void>((resolve) => (received = resolve));
		const sending = client.sendLoyaltyCheckIn({ phoneNumber: '4791234567', isMember: true });
		sending.catch(() => undefined);
		await arrived;
		execution.abort();
		const error = (await sending.then(() => undefined, (e: unknown) => e)) as VippsError;
		expect(error).toBeInstanceOf(VippsError);
		expect(error.message).toBe('the check-in was cancelled with the workflow execution');
		expect(error.details).toMatchObject({ attempts: 1, possibleDuplicate: true });
		expect(error.details.description).toContain('the customer may have seen the check-in');
	});

	it('cancelled before anything was sent: attempts 0, not a possible duplicate', async () => {
		const http: N8nHttp = { httpRequest: async (options) => await Container.get(OutboundHttp).requests().request(options) };
		const client = new VippsApiClient(credentials(baseUrl), { http, timeoutMs: 10_000, signal: AbortSignal.abort() });
		const error = (await client.sendLoyaltyCheckIn({ phoneNumber: '4791234567', isMember: true }).then(() => undefined, (e: unknown) => e)) as VippsError;
		expect(error).toBeInstanceOf(VippsError);
		expect(error.details).toMatchObject({ attempts: 0, possibleDuplicate: false });
	});
});
