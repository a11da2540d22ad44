/**
 * The token cache: one access token per distinct credential set (environment, keys, MSN),
 * shared by every item and every execution in this n8n process.
 *
 * Shaped after the Azure SDK's token cycler: a token is renewed in the background shortly
 * before it expires while callers keep using it, and only in the last moments must a caller
 * wait for the new one. Concurrent callers share one fetch; a failed fetch is never cached
 * as a token; a failed background renewal is not retried more often than every few seconds.
 * The cache holds at most MAX_CREDENTIAL_SETS entries (least recently used go first), and an
 * entry whose first fetch failed is dropped, so rotated secrets and typos do not pile up.
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

interface CachedToken {
	value: string;
	/** From here on a renewal runs in the background; the token is still used. */
	renewAt: number;
	/** From here on callers wait for a new token. */
	expiresAt: number;
}

interface CacheEntry {
	token?: CachedToken;
	renewal?: Promise<CachedToken>;
	lastRenewalFailureAt?: number;
}

/** The retired Vipps Node SDK renewed 3 minutes early; short (simulator) lifetimes renew at 90 %. */
const BACKGROUND_RENEWAL_WINDOW_MS = 3 * 60_000;
/** Stop handing out a token this close to its expiry: the request could arrive after it. */
const HARD_EXPIRY_MARGIN_MS = 30_000;
const RENEWAL_RETRY_INTERVAL_MS = 3_000;
/** A process serves a handful of credentials; partners with per-shop MSNs a few dozen. */
export const MAX_CREDENTIAL_SETS = 100;

const keysByCredentials = new WeakMap<VippsCredentials, string>();

export class AccessTokenCache {
	private readonly entries = new Map<string, CacheEntry>();

	constructor(
		private readonly now: () => number = () => Date.now(),
		private readonly maxEntries = MAX_CREDENTIAL_SETS,
	) {}

	/**
	 * The key is a hash, so the cache's own map holds no secret in readable form. Every request
	 * asks for it, so it is hashed once per credentials object (they are never changed).
	 */
	static keyOf(credentials: VippsCredentials): string {
		let key = keysByCredentials.get(credentials);
		if (key === undefined) {
			const parts = [
				credentials.baseUrl,
				credentials.clientId,
				credentials.clientSecret,
				credentials.subscriptionKey,
				credentials.merchantSerialNumber ?? '',
			];
			key = createHash('sha256').update(JSON.stringify(parts)).digest('hex');
			keysByCredentials.set(credentials, key);
		}
		return key;
	}

	/** How many credential sets the cache holds (for tests). */
	get size(): number {
		return this.entries.size;
	}

	async getToken(credentials: VippsCredentials, fetchToken: FetchAccessToken): Promise<string> {
		const usable = this.usableToken(credentials, fetchToken);
		if (usable !== undefined) return usable;
		const key = AccessTokenCache.keyOf(credentials);
		return (await this.renew(key, this.entryFor(key), fetchToken)).value;
	}

	/**
	 * The cached token while it may still be used, starting its background renewal when due;
	 * undefined when callers must wait for a new one. Lets the common case skip a promise.
	 */
	usableToken(credentials: VippsCredentials, fetchToken: FetchAccessToken): string | undefined {
		const key = AccessTokenCache.keyOf(credentials);
		const entry = this.entries.get(key);
		const token = entry?.token;
		const now = this.now();
		if (!entry || !token || now >= token.expiresAt) return undefined;
		this.touch(key, entry);
		if (now >= token.renewAt) this.renewInBackground(key, entry, fetchToken, now);
		return token.value;
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

	private entryFor(key: string): CacheEntry {
		return this.touch(key, this.entries.get(key) ?? {});
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

	private renewInBackground(key: string, entry: CacheEntry, fetchToken: FetchAccessToken, now: number): void {
		if (entry.renewal) return;
		if (entry.lastRenewalFailureAt !== undefined && now - entry.lastRenewalFailureAt < RENEWAL_RETRY_INTERVAL_MS) {
			return;
		}
		// The current token stays valid for a while: a failed renewal is only remembered.
		this.renew(key, entry, fetchToken).catch(() => undefined);
	}

	/** One renewal at a time per credential set, shared by every caller. */
	private renew(key: string, entry: CacheEntry, fetchToken: FetchAccessToken): Promise<CachedToken> {
		entry.renewal ??= fetchToken()
			.then((grant) => {
				entry.token = this.cachedTokenFrom(grant);
				entry.lastRenewalFailureAt = undefined;
				this.touch(key, entry);
				return entry.token;
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

	/** Expiry counts from the local clock at receipt, as Vipps's `expires_on` may disagree with ours. */
	private cachedTokenFrom(grant: AccessTokenGrant): CachedToken {
		const receivedAt = this.now();
		const lifetimeMs = grant.expiresInSeconds * 1000;
		return {
			value: grant.accessToken,
			renewAt: receivedAt + lifetimeMs - Math.min(BACKGROUND_RENEWAL_WINDOW_MS, lifetimeMs * 0.1),
			expiresAt: receivedAt + lifetimeMs - Math.min(HARD_EXPIRY_MARGIN_MS, lifetimeMs * 0.05),
		};
	}
}
