import { setImmediate as nextTurn } from 'node:timers/promises';

import {
	AccessTokenCache,
	MAX_CREDENTIAL_SETS,
	type AccessTokenGrant,
	type FetchAccessToken,
} from '../../nodes/VippsCheckIn/transport/accessTokenCache';
import type { VippsCredentials } from '../../nodes/VippsCheckIn/transport/vippsCredentials';

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

	usableToken(creds: VippsCredentials): string | undefined {
		return this.cache.usableToken(creds, () => this.endpoint.fetch(creds));
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

		it(`fetches one token for a partner cycling through more than ${MAX_CREDENTIAL_SETS} MSN overrides, not one per request`, async () => {
			await primed(endpoint, cache, HOUR_S);
			for (let round = 0; round < 2; round++) {
				for (let msn = 1000; msn < 1000 + MAX_CREDENTIAL_SETS + 50; msn++) {
					expect(cache.usableToken(credentials({ merchantSerialNumber: String(msn) }))).toBe('token-1');
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

	describe('usableToken', () => {
		it('has nothing before the first token, and asking fetches nothing', async () => {
			expect(cache.usableToken(credentials())).toBeUndefined();
			await settle();
			expect(endpoint.count).toBe(0);
		});

		it('hands out the cached token at once while it is valid, without a request', async () => {
			await primed(endpoint, cache, HOUR_S);
			endpoint.advance(HOUR_S * 1000 - 180_001);
			expect(cache.usableToken(credentials())).toBe('token-1');
			await settle();
			expect(endpoint.count).toBe(1);
		});

		it('starts one background renewal in the renewal window and still hands out the old token', async () => {
			await primed(endpoint, cache, HOUR_S);
			endpoint.advance(HOUR_S * 1000 - 180_000);
			expect(cache.usableToken(credentials())).toBe('token-1');
			expect(cache.usableToken(credentials())).toBe('token-1');
			await settle();
			expect(endpoint.count).toBe(2);
			endpoint.answer('token-2', HOUR_S);
			await settle();
			expect(cache.usableToken(credentials())).toBe('token-2');
		});

		it('has nothing within the hard margin of expiry, so callers wait for a new token', async () => {
			await primed(endpoint, cache, HOUR_S);
			endpoint.advance(HOUR_S * 1000 - 30_000);
			expect(cache.usableToken(credentials())).toBeUndefined();
		});

		it('has nothing for other credentials or after the token was invalidated', async () => {
			await primed(endpoint, cache, HOUR_S);
			expect(cache.usableToken(credentials({ clientSecret: 'rotated-secret' }))).toBeUndefined();
			cache.invalidate(credentials(), 'token-1');
			expect(cache.usableToken(credentials())).toBeUndefined();
		});
	});

	describe('keyOf', () => {
		it('contains no secret, no client id and no readable part of them', () => {
			const creds = credentials();
			const key = AccessTokenCache.keyOf(creds);
			expect(key).toMatch(/^[0-9a-f]{64}$/);
			for (const secret of [creds.clientSecret, creds.subscriptionKey, creds.clientId]) {
				expect(key).not.toContain(secret);
				expect(key).not.toContain(secret.slice(0, 8));
			}
		});

		it('is the same for equal keys whatever the MSN, and differs when any key differs', () => {
			const base = AccessTokenCache.keyOf(credentials());
			expect(AccessTokenCache.keyOf(credentials())).toBe(base);
			expect(AccessTokenCache.keyOf(credentials({ merchantSerialNumber: '654321' }))).toBe(base);
			for (const difference of [
				{ baseUrl: 'http://127.0.0.1:8080' },
				{ clientId: 'x' },
				{ clientSecret: 'x' },
				{ subscriptionKey: 'x' },
			]) {
				expect(AccessTokenCache.keyOf(credentials(difference))).not.toBe(base);
			}
		});

		it('cannot be confused by values that run into each other', () => {
			const a = AccessTokenCache.keyOf(credentials({ clientId: 'ab', clientSecret: 'cd' }));
			const b = AccessTokenCache.keyOf(credentials({ clientId: 'a', clientSecret: 'bcd' }));
			expect(a).not.toBe(b);
		});
	});

	describe('renewal', () => {
		it.each<[string, number, number, number]>([
			// lifetime, background renewal starts at, callers wait from (ms after receipt)
			['1 hour (MT)', HOUR_S, HOUR_S * 1000 - 180_000, HOUR_S * 1000 - 30_000],
			['24 hours (production)', DAY_S, DAY_S * 1000 - 180_000, DAY_S * 1000 - 30_000],
			['2 seconds (simulator)', 2, 1_800, 1_900],
		])('for a %s token: renews in the background before expiry, blocks only near it', async (_label, lifetimeS, renewAtMs, waitFromMs) => {
			const receivedAt = endpoint.time;
			await primed(endpoint, cache, lifetimeS);

			// Before the renewal window: the token, and no request.
			endpoint.time = receivedAt + renewAtMs - 1;
			await expect(cache.getToken(credentials())).resolves.toBe('token-1');
			await settle();
			expect(endpoint.count).toBe(1);

			// In the renewal window: still the old token, at once, while one renewal starts.
			endpoint.time = receivedAt + renewAtMs;
			await expect(cache.getToken(credentials())).resolves.toBe('token-1');
			await settle();
			expect(endpoint.count).toBe(2);

			// Further callers in the window share that renewal and still get the old token.
			endpoint.time = receivedAt + waitFromMs - 1;
			await expect(cache.getToken(credentials())).resolves.toBe('token-1');
			await settle();
			expect(endpoint.count).toBe(2);

			// Past the hard margin, callers wait for the renewal already under way.
			endpoint.time = receivedAt + waitFromMs;
			await fetchedToken(endpoint, cache, { fetchNumber: 2, token: 'token-2', lifetimeS });
			expect(endpoint.count).toBe(2);
		});

		it('returns the renewed token once the background renewal is done', async () => {
			await primed(endpoint, cache, HOUR_S);
			endpoint.advance(HOUR_S * 1000 - 120_000);
			await expect(cache.getToken(credentials())).resolves.toBe('token-1');
			endpoint.answer('token-2', HOUR_S);
			await settle();
			await expect(cache.getToken(credentials())).resolves.toBe('token-2');
			expect(endpoint.count).toBe(2);
		});

		it('makes callers wait for a new token when the old one expired with no renewal under way', async () => {
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

		it('keeps handing out the current token when a background renewal fails, and retries it no sooner than 3 s later', async () => {
			const receivedAt = endpoint.time;
			await primed(endpoint, cache, HOUR_S);
			const windowStart = receivedAt + HOUR_S * 1000 - 180_000;

			endpoint.time = windowStart;
			await expect(cache.getToken(credentials())).resolves.toBe('token-1');
			await settle();
			expect(endpoint.count).toBe(2);
			endpoint.fail(new Error('token endpoint down'));
			await settle();

			for (const later of [0, 1_000, 2_999]) {
				endpoint.time = windowStart + later;
				await expect(cache.getToken(credentials())).resolves.toBe('token-1');
				await settle();
			}
			expect(endpoint.count).toBe(2);

			endpoint.time = windowStart + 3_000;
			await expect(cache.getToken(credentials())).resolves.toBe('token-1');
			await settle();
			expect(endpoint.count).toBe(3);
			endpoint.answer('token-2', HOUR_S);
			await settle();
			await expect(cache.getToken(credentials())).resolves.toBe('token-2');
		});

		it('does not let a failed background renewal block callers once the token has expired', async () => {
			const receivedAt = endpoint.time;
			await primed(endpoint, cache, HOUR_S);
			endpoint.time = receivedAt + HOUR_S * 1000 - 60_000;
			await cache.getToken(credentials());
			await settle();
			endpoint.fail(new Error('down'));
			await settle();

			// Within 3 s of that failure, but past the hard margin: the caller must get a fresh fetch.
			endpoint.time = receivedAt + HOUR_S * 1000 - 30_000;
			await fetchedToken(endpoint, cache, { fetchNumber: 3, token: 'token-2' });
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

		it('keeps a cached token when its background renewal fails', async () => {
			await primed(endpoint, cache, HOUR_S);
			endpoint.advance(HOUR_S * 1000 - 2 * 60_000);
			expect(cache.usableToken(credentials())).toBe('token-1');
			endpoint.fail(new Error('gateway down'));
			await settle();
			expect(cache.cache.size).toBe(1);
			expect(cache.usableToken(credentials())).toBe('token-1');
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
			expect(cache.usableToken(a)).toBe('token-a');
			expect(cache.usableToken(c)).toBe('token-c');
			expect(cache.usableToken(b)).toBeUndefined();
			await fetchedToken(endpoint, cache, { fetchNumber: 4, token: 'token-b2', creds: b });
		});
	});
});
