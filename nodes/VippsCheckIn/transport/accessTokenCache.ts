/**
 * The token cache: one promise of a token per credential target (targetOf), shared by every item
 * and every execution in this n8n process; concurrent callers share one fetch. Tokens live 1 hour
 * (MT) or 24 hours (production), so there is no background renewal: a caller that finds little
 * time left starts a new fetch, which the others then share. A failed fetch or a token Vipps
 * answered 401 is dropped. At most MAX_TARGETS targets, least recently used go first.
 */
import type { VippsCredentials } from '../helpers/vippsCredentials';
import { remember, targetOf } from './targets';

export interface AccessTokenGrant {
	accessToken: string;
	/** `expires_in` as Vipps sent it: 3600 in MT, 86400 in production. */
	expiresInSeconds: number;
}

/** Fetches a new token; given per call, as it sends through the calling execution's n8n helpers. */
export type FetchAccessToken = () => Promise<AccessTokenGrant>;

interface Entry {
	promise: Promise<string>;
	/** Set once the token arrived: the token, and from when a caller fetches a new one. */
	token?: string;
	renewAt?: number;
}

/** Little time left: 3 minutes (the retired Vipps Node SDK's margin), or 10 % of a short (simulator) lifetime. */
const RENEWAL_MARGIN_MS = 3 * 60_000;

export class AccessTokenCache {
	private readonly entries = new Map<string, Entry>();

	constructor(
		private readonly now: () => number = () => Date.now(),
		private readonly maxTargets?: number,
	) {}

	/** How many targets the cache holds (for tests). */
	get size(): number {
		return this.entries.size;
	}

	async getToken(credentials: VippsCredentials, fetchToken: FetchAccessToken): Promise<string> {
		const target = targetOf(credentials);
		let entry = this.entries.get(target);
		if (!entry || (entry.renewAt !== undefined && this.now() >= entry.renewAt)) entry = this.fetch(target, fetchToken);
		return await remember(this.entries, target, entry, this.maxTargets).promise;
	}

	/** Vipps answered 401 with `rejected`: forget it, unless a newer token already replaced it. */
	invalidate(credentials: VippsCredentials, rejected: string): void {
		const target = targetOf(credentials);
		if (this.entries.get(target)?.token === rejected) this.entries.delete(target);
	}

	clear(): void {
		this.entries.clear();
	}

	/** Expiry counts from receipt, by the local clock. */
	private fetch(target: string, fetchToken: FetchAccessToken): Entry {
		const entry: Entry = {
			promise: fetchToken().then(({ accessToken, expiresInSeconds }) => {
				const lifetimeMs = expiresInSeconds * 1000;
				entry.token = accessToken;
				entry.renewAt = this.now() + lifetimeMs - Math.min(RENEWAL_MARGIN_MS, lifetimeMs * 0.1);
				return accessToken;
			}),
		};
		entry.promise.catch(() => {
			if (this.entries.get(target) === entry) this.entries.delete(target);
		});
		return entry;
	}
}
