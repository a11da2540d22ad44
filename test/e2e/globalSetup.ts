/**
 * Once per end-to-end run: real n8n installed (cached outside the repository; ~9 minutes the
 * first time) and this package packed from the fresh build, exactly what npm would publish.
 * Each test file then installs that one tarball into a user folder of its own.
 */
import { join } from 'node:path';

import { kit } from './kit';

export default async function globalSetup(): Promise<void> {
	await kit.ensureN8n();
	process.env.VIPPS_E2E_TARBALL = await kit.packPackage(join(__dirname, '..', '..'));
}
