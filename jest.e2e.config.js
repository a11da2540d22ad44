/**
 * End-to-end tests (`npm run test:e2e`): the packed package inside real n8n 2.41.1 (Node 24,
 * installed once into a cache outside the repository by scripts/real-n8n). Kept out of
 * `npm test`: they need minutes, ~3 GB of disk and registry access on a cold machine.
 * @type {import('jest').Config}
 */
const base = require('./jest.config.js');

module.exports = {
	...base,
	roots: ['<rootDir>/test/e2e'],
	testPathIgnorePatterns: ['/node_modules/'],
	// Installs n8n (cached) and packs the package once for every test file.
	globalSetup: '<rootDir>/test/e2e/globalSetup.ts',
	globalTeardown: '<rootDir>/test/e2e/globalTeardown.ts',
	// Every n8n process takes ~500 MB and a core for seconds: one test file at a time.
	maxWorkers: 1,
	// Per test; a cold n8n install happens in globalSetup, which has no timeout.
	testTimeout: 4 * 60_000,
};
