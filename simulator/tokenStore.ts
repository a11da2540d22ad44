import { randomBytes, randomUUID } from 'crypto';

/** Azure AD's app id for the token's audience; Vipps's tokens carry it as `resource`. */
export const TOKEN_RESOURCE = '00000002-0000-0000-c000-000000000000';
/** A made-up tenant: the simulator's tokens must never pass for real ones. */
export const SIMULATOR_TENANT_ID = '5e1a7e00-0000-4000-8000-00000000d1d0';

/** The access tokens this simulator issued, and until when each is good. */
export class TokenStore {
	private readonly expiresAtMs = new Map<string, number>();
	private readonly everIssued: string[] = [];

	/** The token stops working at the whole second the token body announces as expires_on. */
	issue(clientId: string, issuedAtSeconds: number, lifetimeSeconds: number): string {
		const token = fakeJwt(clientId, issuedAtSeconds, lifetimeSeconds);
		this.expiresAtMs.set(token, (issuedAtSeconds + lifetimeSeconds) * 1000);
		this.everIssued.push(token);
		return token;
	}

	/** Every token issued, expired ones included: what a client must never show. */
	all(): string[] {
		return [...this.everIssued];
	}

	isValid(token: string, nowMs: number): boolean {
		const expiresAt = this.expiresAtMs.get(token);
		if (expiresAt === undefined) return false;
		if (nowMs < expiresAt) return true;
		this.expiresAtMs.delete(token);
		return false;
	}

	expireAll(): void {
		this.expiresAtMs.clear();
	}
}

/** Looks like an Azure AD v1 token so clients that peek at it behave as in production; the signature is random bytes. */
function fakeJwt(clientId: string, issuedAt: number, lifetimeSeconds: number): string {
	const header = { typ: 'JWT', alg: 'RS256', kid: 'vipps-simulator' };
	const claims = {
		aud: TOKEN_RESOURCE,
		iss: `https://sts.windows.net/${SIMULATOR_TENANT_ID}/`,
		iat: issuedAt,
		nbf: issuedAt,
		exp: issuedAt + lifetimeSeconds,
		appid: clientId,
		tid: SIMULATOR_TENANT_ID,
		uti: randomUUID(),
		ver: '1.0',
	};
	return [base64url(header), base64url(claims), randomBytes(64).toString('base64url')].join('.');
}

function base64url(value: object): string {
	return Buffer.from(JSON.stringify(value)).toString('base64url');
}
