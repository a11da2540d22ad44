import { setImmediate as nextTurn } from 'node:timers/promises';

import { AccessTokenCache, type AccessTokenGrant, type FetchAccessToken } from '../../nodes/VippsCheckIn/transport/accessTokenCache';
import type { VippsCredentials } from '../../nodes/VippsCheckIn/helpers/vippsCredentials';
import { MAX_TARGETS, targetOf } from '../../nodes/VippsCheckIn/transport/targets';

const HOUR_S = 3_600;
const DAY_S = 86_400;

function credentials(overrides: Partial<VippsCredentials> = {}): VippsCredentials {
	return {
		environment: 'production',
		baseUrl: 'https://api.vipps.no',
		clientId: 'client-id-abc',
		clientSecret: 'client-secret-SHOULD-NOT-LEAK',
		subscriptionKey: 'subscription-key-SHOULD-NOT-LEAK',
		merchantSerialNumber: '123456',
		systemHeaders: {
			'Vipps-System-Name': 'n8n',
			'Vipps-System-Version': '1.0.0',
			'Vipps-System-Plugin-Name': 'n8n-nodes-vipps-checkin',
			'Vipps-System-Plugin-Version': '0.1.0',
		},
		...overrides,
	};
}

interface PendingFetch {
	credentials: VippsCredentials;
	resolve(grant: AccessTokenGrant): void;
	reject(error: unknown): void;
}

/** A token endpoint the test answers by hand, and a clock the test moves by hand. */
class FakeTokenEndpoint {
	time = 1_000_000;
	readonly calls: PendingFetch[] = [];
	readonly now = () => this.time;
	readonly fetch = (creds: VippsCredentials): ReturnType<FetchAccessToken> =>
		new Promise<AccessTokenGrant>((resolve, reject) => {
			this.calls.push({ credentials: creds, resolve, reject });
		});

	get count(): number {
		return this.calls.length;
	}

	/** Answers the latest request. */
	answer(accessToken: string, expiresInSeconds: number): void {
		this.latest().resolve({ accessToken, expiresInSeconds });
	}

	fail(error: unknown): void {
		this.latest().reject(error);
	}

	advance(ms: number): void {
		this.time += ms;
	}

	private latest(): PendingFetch {
		const call = this.calls.at(-1);
		if (!call) throw new Error('no token request was made');
		return call;
	}
}

/** The cache as the API client uses it: every call hands over the fetch for its credentials. */
class CacheUnderTest {
	readonly cache: AccessTokenCache;

	constructor(
		private readonly endpoint: FakeTokenEndpoint,
		maxEntries?: number,
	) {
		this.cache = new AccessTokenCache(endpoint.now, maxEntries);
	}

	getToken(creds: VippsCredentials): Promise<string> {
		return this.cache.getToken(creds, () => this.endpoint.fetch(creds));
	}

	invalidate(creds: VippsCredentials, rejected: string): void {
		this.cache.invalidate(creds, rejected);
	}

	clear(): void {
		this.cache.clear();
	}
}

/** Lets pending promise callbacks run (one macrotask turn). */
const settle = () => nextTurn();

/**
 * Asks for a token that takes a fetch: checks that the caller waits and that the fetch is token
 * request number `fetchNumber`, answers it with `token`, and expects the caller to get that token.
 */
async function fetchedToken(
	endpoint: FakeTokenEndpoint,
	cache: CacheUnderTest,
	{ fetchNumber, token, lifetimeS = HOUR_S, creds = credentials() }: { fetchNumber: number; token: string; lifetimeS?: number; creds?: VippsCredentials },
): Promise<void> {
	let settled = false;
	const pending = cache.getToken(creds).finally(() => {
		settled = true;
	});
	await settle();
	expect(settled).toBe(false);
	expect(endpoint.count).toBe(fetchNumber);
	endpoint.answer(token, lifetimeS);
	await expect(pending).resolves.toBe(token);
}

/** Fetches the first token: `token-1`, with the given lifetime. */
const primed = (endpoint: FakeTokenEndpoint, cache: CacheUnderTest, lifetimeS: number) =>
	fetchedToken(endpoint, cache, { fetchNumber: 1, token: 'token-1', lifetimeS });

describe('AccessTokenCache', () => {
	let endpoint: FakeTokenEndpoint;
	let cache: CacheUnderTest;

	beforeEach(() => {
		endpoint = new FakeTokenEndpoint();
		cache = new CacheUnderTest(endpoint);
	});

	describe('sharing one token', () => {
		it('fetches once for many sequential callers', async () => {
			await primed(endpoint, cache, HOUR_S);
			for (let i = 0; i < 20; i++) {
				endpoint.advance(60_000);
				await expect(cache.getToken(credentials())).resolves.toBe('token-1');
			}
			expect(endpoint.count).toBe(1);
		});

		it('fetches once for many concurrent callers (single flight)', async () => {
			const callers = Array.from({ length: 25 }, () => cache.getToken(credentials()));
			await settle();
			expect(endpoint.count).toBe(1);
			endpoint.answer('token-1', HOUR_S);
			await expect(Promise.all(callers)).resolves.toEqual(Array(25).fill('token-1'));
			expect(endpoint.count).toBe(1);
		});

		it('passes the credentials to the token request', async () => {
			const creds = credentials();
			const pending = cache.getToken(creds);
			await settle();
			expect(endpoint.calls[0].credentials).toBe(creds);
			endpoint.answer('token-1', HOUR_S);
			await pending;
		});

		it('shares a token between equal credential objects', async () => {
			await primed(endpoint, cache, HOUR_S);
			await expect(cache.getToken({ ...credentials() })).resolves.toBe('token-1');
			expect(endpoint.count).toBe(1);
		});

		it('shares one token across Merchant Serial Numbers: the token stands for the keys, Vipps checks the MSN per request', async () => {
			await primed(endpoint, cache, HOUR_S);
			await expect(cache.getToken(credentials({ merchantSerialNumber: '654321' }))).resolves.toBe('token-1');
			await expect(cache.getToken(credentials({ merchantSerialNumber: undefined }))).resolves.toBe('token-1');
			expect(endpoint.count).toBe(1);
		});

		it(`fetches one token for a partner cycling through more than ${MAX_TARGETS} MSN overrides, not one per request`, async () => {
			await primed(endpoint, cache, HOUR_S);
			for (let round = 0; round < 2; round++) {
				for (let msn = 1000; msn < 1000 + MAX_TARGETS + 50; msn++) {
					await expect(cache.getToken(credentials({ merchantSerialNumber: String(msn) }))).resolves.toBe('token-1');
				}
			}
			await settle();
			expect(endpoint.count).toBe(1);
			expect(cache.cache.size).toBe(1);
		});

		it.each<[string, Partial<VippsCredentials>]>([
			['base URL', { baseUrl: 'https://apitest.vipps.no' }],
			['Client ID', { clientId: 'another-client' }],
			['Client Secret', { clientSecret: 'rotated-secret' }],
			['Subscription Key', { subscriptionKey: 'another-key' }],
		])('keeps a separate token when the %s differs', async (_what, difference) => {
			await primed(endpoint, cache, HOUR_S);
			await fetchedToken(endpoint, cache, { fetchNumber: 2, token: 'token-2', creds: credentials(difference) });
			await expect(cache.getToken(credentials())).resolves.toBe('token-1');
			await expect(cache.getToken(credentials(difference))).resolves.toBe('token-2');
			expect(endpoint.count).toBe(2);
		});

		it('forgets every token on clear()', async () => {
			await primed(endpoint, cache, HOUR_S);
			cache.clear();
			await fetchedToken(endpoint, cache, { fetchNumber: 2, token: 'token-2' });
		});
	});

	describe('targetOf', () => {
		it('contains no secret, no client id and no readable part of them', () => {
			const creds = credentials();
			const key = targetOf(creds);
			expect(key).toMatch(/^[0-9a-f]{64}$/);
			for (const secret of [creds.clientSecret, creds.subscriptionKey, creds.clientId]) {
				expect(key).not.toContain(secret);
				expect(key).not.toContain(secret.slice(0, 8));
			}
		});

		it('is the same for equal keys whatever the MSN, and differs when any key differs', () => {
			const base = targetOf(credentials());
			expect(targetOf(credentials())).toBe(base);
			expect(targetOf(credentials({ merchantSerialNumber: '654321' }))).toBe(base);
			for (const difference of [
				{ baseUrl: 'http://127.0.0.1:8080' },
				{ clientId: 'x' },
				{ clientSecret: 'x' },
				{ subscriptionKey: 'x' },
			]) {
				expect(targetOf(credentials(difference))).not.toBe(base);
			}
		});

		it('cannot be confused by values that run into each other', () => {
			const a = targetOf(credentials({ clientId: 'ab', clientSecret: 'cd' }));
			const b = targetOf(credentials({ clientId: 'a', clientSecret: 'bcd' }));
			expect(a).not.toBe(b);
		});
	});

	describe('renewal: no background renewal, a caller that finds little time left fetches', () => {
		it.each<[string, number, number]>([
			// lifetime, a caller fetches anew from (ms after receipt)
			['1 hour (MT)', HOUR_S, HOUR_S * 1000 - 180_000],
			['24 hours (production)', DAY_S, DAY_S * 1000 - 180_000],
			['2 seconds (simulator)', 2, 1_800],
		])('for a %s token: the cached token until little time is left, then one shared fetch', async (_label, lifetimeS, renewAtMs) => {
			const receivedAt = endpoint.time;
			await primed(endpoint, cache, lifetimeS);

			endpoint.time = receivedAt + renewAtMs - 1;
			await expect(cache.getToken(credentials())).resolves.toBe('token-1');
			await settle();
			expect(endpoint.count).toBe(1);

			// Little time left: callers wait for one new fetch, shared by all of them.
			endpoint.time = receivedAt + renewAtMs;
			const callers = [cache.getToken(credentials()), cache.getToken(credentials())];
			await settle();
			expect(endpoint.count).toBe(2);
			endpoint.answer('token-2', lifetimeS);
			await expect(Promise.all(callers)).resolves.toEqual(['token-2', 'token-2']);
			await expect(cache.getToken(credentials())).resolves.toBe('token-2');
			expect(endpoint.count).toBe(2);
		});

		it('makes callers wait for a new token when the old one expired', async () => {
			await primed(endpoint, cache, HOUR_S);
			endpoint.advance(HOUR_S * 1000 + 5_000);
			await fetchedToken(endpoint, cache, { fetchNumber: 2, token: 'token-2' });
		});

		it('counts the lifetime from when the token arrived, not from when it was asked for', async () => {
			const first = cache.getToken(credentials());
			await settle();
			endpoint.advance(20_000); // a slow token endpoint
			const arrivedAt = endpoint.time;
			endpoint.answer('token-1', 2);
			await first;
			endpoint.time = arrivedAt + 1_799;
			await cache.getToken(credentials());
			await settle();
			expect(endpoint.count).toBe(1);
		});

		it('starts nothing by itself: time passing fetches nothing', async () => {
			await primed(endpoint, cache, 2);
			endpoint.advance(10_000);
			await settle();
			expect(endpoint.count).toBe(1);
		});
	});

	describe('failures', () => {
		it('passes the fetch error through unchanged', async () => {
			const failure = new Error('Vipps rejected the Client Secret');
			const pending = cache.getToken(credentials());
			await settle();
			endpoint.fail(failure);
			await expect(pending).rejects.toBe(failure);
		});

		it('rejects every concurrent caller of a failed fetch with the same error', async () => {
			const failure = new Error('boom');
			const callers = [1, 2, 3].map(() => cache.getToken(credentials()));
			await settle();
			expect(endpoint.count).toBe(1);
			endpoint.fail(failure);
			for (const caller of callers) await expect(caller).rejects.toBe(failure);
		});

		it('does not cache a failure: the next call fetches again', async () => {
			const pending = cache.getToken(credentials());
			await settle();
			endpoint.fail(new Error('first attempt failed'));
			await expect(pending).rejects.toThrow('first attempt failed');

			const retry = cache.getToken(credentials());
			await settle();
			expect(endpoint.count).toBe(2);
			endpoint.answer('token-1', HOUR_S);
			await expect(retry).resolves.toBe('token-1');
		});

	});

	describe('invalidate', () => {
		it('drops the rejected token so the next call fetches a new one', async () => {
			await primed(endpoint, cache, HOUR_S);
			cache.invalidate(credentials(), 'token-1');
			await fetchedToken(endpoint, cache, { fetchNumber: 2, token: 'token-2' });
		});

		it('keeps a newer token when a late 401 names the old one', async () => {
			await primed(endpoint, cache, HOUR_S);
			cache.invalidate(credentials(), 'token-1');
			await fetchedToken(endpoint, cache, { fetchNumber: 2, token: 'token-2' });

			cache.invalidate(credentials(), 'token-1');
			await expect(cache.getToken(credentials())).resolves.toBe('token-2');
			expect(endpoint.count).toBe(2);
		});

		it('leaves the tokens of other credential sets alone', async () => {
			await primed(endpoint, cache, HOUR_S);
			const otherCreds = credentials({ clientSecret: 'rotated-secret' });
			// The same token text for another set.
			await fetchedToken(endpoint, cache, { fetchNumber: 2, token: 'token-1', creds: otherCreds });

			cache.invalidate(otherCreds, 'token-1');
			await expect(cache.getToken(credentials())).resolves.toBe('token-1');
			expect(endpoint.count).toBe(2);
		});

		it('does nothing for credentials it never saw', () => {
			expect(() => cache.invalidate(credentials({ clientId: 'unknown' }), 'token-x')).not.toThrow();
		});
	});

	describe('bounded size', () => {
		it('keeps no entry for a credential set whose first fetch failed', async () => {
			const pending = cache.getToken(credentials({ clientSecret: 'typo' }));
			await settle();
			endpoint.fail(new Error('invalid_client'));
			await expect(pending).rejects.toThrow('invalid_client');
			expect(cache.cache.size).toBe(0);
		});

		it('drops the entry of a renewal that failed: the next caller fetches afresh', async () => {
			await primed(endpoint, cache, HOUR_S);
			endpoint.advance(HOUR_S * 1000 - 60_000);
			const renewal = cache.getToken(credentials());
			await settle();
			endpoint.fail(new Error('gateway down'));
			await expect(renewal).rejects.toThrow('gateway down');
			expect(cache.cache.size).toBe(0);
			await fetchedToken(endpoint, cache, { fetchNumber: 3, token: 'token-2' });
		});

		it('forgets the least recently used credential set beyond its bound', async () => {
			cache = new CacheUnderTest(endpoint, 2);
			const [a, b, c] = ['client-a', 'client-b', 'client-c'].map((clientId) => credentials({ clientId }));
			await fetchedToken(endpoint, cache, { fetchNumber: 1, token: 'token-a', creds: a });
			await fetchedToken(endpoint, cache, { fetchNumber: 2, token: 'token-b', creds: b });
			// a is used again, so b is now the least recently used.
			await expect(cache.getToken(a)).resolves.toBe('token-a');
			await fetchedToken(endpoint, cache, { fetchNumber: 3, token: 'token-c', creds: c });

			expect(cache.cache.size).toBe(2);
			await expect(cache.getToken(a)).resolves.toBe('token-a');
			await expect(cache.getToken(c)).resolves.toBe('token-c');
			expect(endpoint.count).toBe(3);
			await fetchedToken(endpoint, cache, { fetchNumber: 4, token: 'token-b2', creds: b });
		});
	});
});
