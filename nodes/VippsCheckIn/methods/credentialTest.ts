import type { ICredentialsDecrypted, ICredentialTestFunctions, INodeCredentialTestResult } from 'n8n-workflow';

import { requestAccessToken } from '../transport';
import { InvalidCredentialsError, parseVippsCredentials } from '../transport/vippsCredentials';
import { VippsError, redactSecrets } from '../transport/vippsErrors';

/** n8n's "Test" button: fetch a fresh token (never the cached one) and say in words what is wrong. */
export async function vippsMobilePayApiTest(
	this: ICredentialTestFunctions,
	credential: ICredentialsDecrypted,
): Promise<INodeCredentialTestResult> {
	let credentials;
	try {
		credentials = parseVippsCredentials(credential.data ?? {});
	} catch (error) {
		// parseVippsCredentials names fields, never secret values.
		return { status: 'Error', message: (error as InvalidCredentialsError).message };
	}
	try {
		const grant = await requestAccessToken(credentials);
		const hours = Math.round((grant.expiresInSeconds / 3600) * 10) / 10;
		return {
			status: 'OK',
			message: `Connection tested: Vipps issued an access token valid for ${hours} hour${hours === 1 ? '' : 's'}`,
		};
	} catch (error) {
		const message =
			error instanceof VippsError ? `${error.message}. ${error.details.description}` : (error as Error).message;
		return { status: 'Error', message: redactSecrets(message, credentials) };
	}
}
