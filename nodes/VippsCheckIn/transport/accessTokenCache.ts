/**
 * The token cache: one access token per set of keys (base URL, Client ID, Client Secret,
 * Subscription Key), shared by every item and every execution in this n8n process. The token
 * stands for the keys; Vipps checks the Merchant-Serial-Number of each API request against them,
 * so one token serves every MSN (the .NET SDK caches per client id and secret too), and a
 * partner cycling through many MSN overrides fetches one token, not one per MSN.
 *
 * Shaped after the Azure SDK's token cycler: a token is renewed in the background shortly
 * before it expires while callers keep using it, and only in the last moments must a caller
 * wait for the new one. Concurrent callers share one fetch; a failed fetch is never cached
 * as a token; a failed background renewal is not retried more often than every few seconds.
 * At most MAX_CREDENTIAL_SETS entries (least recently used go first), and an entry whose first
 * fetch failed is dropped, so rotated secrets and typos do not pile up.
 */
import { createHash } from 'crypto';

import type { VippsCredentials } from './vippsCredentials';

export interface AccessTokenGrant {
	accessToken: string;
	/** `expires_in` as Vipps sent it: 3600 in MT, 86400 in production. */
	expiresInSeconds: number;
}

/** Fetches a new token; given per call, as it sends through the calling execution's n8n helpers. */
export type FetchAccessToken = () => Promise<AccessTokenGrant>;

interface CacheEntry {
	token?: {
		value: string;
		/** From here on a renewal runs in the background; the token is still used. */
		renewAt: number;
		/** From here on callers wait for a new token. */
		expiresAt: number;
	};
	renewal?: Promise<string>;
	lastRenewalFailureAt?: number;
}

/** The retired Vipps Node SDK renewed 3 minutes early; short (simulator) lifetimes renew at 90 %. */
const BACKGROUND_RENEWAL_WINDOW_MS = 3 * 60_000;
/** Stop handing out a token this close to its expiry: the request could arrive after it. */
const HARD_EXPIRY_MARGIN_MS = 30_000;
const RENEWAL_RETRY_INTERVAL_MS = 3_000;
/** A process serves a handful of credentials. */
export const MAX_CREDENTIAL_SETS = 100;

const keysByCredentials = new WeakMap<VippsCredentials, string>();

export class AccessTokenCache {
	private readonly entries = new Map<string, CacheEntry>();

	constructor(
		private readonly now: () => number = () => Date.now(),
		private readonly maxEntries = MAX_CREDENTIAL_SETS,
	) {}

	/** A hash, so the cache holds no secret in readable form; computed once per credentials object. */
	static keyOf(credentials: VippsCredentials): string {
		let key = keysByCredentials.get(credentials);
		if (key === undefined) {
			const { baseUrl, clientId, clientSecret, subscriptionKey } = credentials;
			key = createHash('sha256').update(JSON.stringify([baseUrl, clientId, clientSecret, subscriptionKey])).digest('hex');
			keysByCredentials.set(credentials, key);
		}
		return key;
	}

	/** How many sets of keys the cache holds (for tests). */
	get size(): number {
		return this.entries.size;
	}

	async getToken(credentials: VippsCredentials, fetchToken: FetchAccessToken): Promise<string> {
		const key = AccessTokenCache.keyOf(credentials);
		return this.usableToken(credentials, fetchToken) ?? (await this.renew(key, this.touch(key, this.entries.get(key) ?? {}), fetchToken));
	}

	/**
	 * The cached token while it may still be used, starting its background renewal when due;
	 * undefined when callers must wait for a new one. Lets the common case skip a promise.
	 */
	usableToken(credentials: VippsCredentials, fetchToken: FetchAccessToken): string | undefined {
		const key = AccessTokenCache.keyOf(credentials);
		const entry = this.entries.get(key);
		const now = this.now();
		if (!entry?.token || now >= entry.token.expiresAt) return undefined;
		this.touch(key, entry);
		const retryDue = entry.lastRenewalFailureAt === undefined || now - entry.lastRenewalFailureAt >= RENEWAL_RETRY_INTERVAL_MS;
		// The current token stays valid for a while: a failed renewal is only remembered.
		if (now >= entry.token.renewAt && !entry.renewal && retryDue) this.renew(key, entry, fetchToken).catch(() => undefined);
		return entry.token.value;
	}

	/**
	 * Vipps answered 401 with `rejectedToken`: forget it, unless a newer token already
	 * replaced it (then concurrent 401s do not throw away a fresh token).
	 */
	invalidate(credentials: VippsCredentials, rejectedToken: string): void {
		const entry = this.entries.get(AccessTokenCache.keyOf(credentials));
		if (entry?.token?.value === rejectedToken) entry.token = undefined;
	}

	clear(): void {
		this.entries.clear();
	}

	/** Makes `entry` the most recently used; the least recently used go beyond the bound. */
	private touch(key: string, entry: CacheEntry): CacheEntry {
		this.entries.delete(key);
		this.entries.set(key, entry);
		for (const oldest of this.entries.keys()) {
			if (this.entries.size <= this.maxEntries) break;
			this.entries.delete(oldest);
		}
		return entry;
	}

	/** One renewal at a time per set of keys, shared by every caller. Expiry counts from receipt, by the local clock. */
	private renew(key: string, entry: CacheEntry, fetchToken: FetchAccessToken): Promise<string> {
		entry.renewal ??= fetchToken()
			.then(({ accessToken, expiresInSeconds }) => {
				const receivedAt = this.now();
				const lifetimeMs = expiresInSeconds * 1000;
				entry.token = {
					value: accessToken,
					renewAt: receivedAt + lifetimeMs - Math.min(BACKGROUND_RENEWAL_WINDOW_MS, lifetimeMs * 0.1),
					expiresAt: receivedAt + lifetimeMs - Math.min(HARD_EXPIRY_MARGIN_MS, lifetimeMs * 0.05),
				};
				entry.lastRenewalFailureAt = undefined;
				this.touch(key, entry);
				return accessToken;
			})
			.catch((error: unknown) => {
				entry.lastRenewalFailureAt = this.now();
				// Nothing worth keeping: a typo or a rotated secret must not hold a place in the cache.
				if (!entry.token && this.entries.get(key) === entry) this.entries.delete(key);
				throw error;
			})
			.finally(() => {
				entry.renewal = undefined;
			});
		return entry.renewal;
	}
}
