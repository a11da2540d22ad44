// n8n's own community-node lint (`n8n-node lint`), self-hosted rule set: this package has
// runtime dependencies (undici, zod), which n8n Cloud's verified-node rules do not allow.
// It checks what ships (nodes/, credentials/, package.json); the simulator, harness, scripts
// and tests are development tools that never reach n8n. Every rule switched off below is
// listed, with its reason, in the README ("Lint and the community-package scanner").
import { configWithoutCloudSupport } from '@n8n/node-cli/eslint';
import { globalIgnores } from 'eslint/config';

export default [
	globalIgnores(['test/**', 'harness/**', 'simulator/**', 'scripts/**', 'examples/**', 'docs/**', '*.js', '.ci/**']),
	...configWithoutCloudSupport,
	{
		// undici (HTTP pool, proxy variables, timeouts) and zod (validation) were chosen as runtime
		// dependencies; n8n installs them with the package on self-hosted instances.
		files: ['package.json'],
		rules: { '@n8n/community-nodes/no-runtime-dependencies': 'off' },
	},
	{
		// The transport raises its own VippsError (it has no node to name); actions/batch.ts turns
		// every error into NodeApiError / NodeOperationError, with the item index, at one boundary.
		files: ['nodes/VippsCheckIn/transport/**/*.ts'],
		rules: { '@n8n/community-nodes/require-node-api-error': 'off' },
	},
];
