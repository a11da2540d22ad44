/** @type {import('jest').Config} */
module.exports = {
	testEnvironment: 'node',
	roots: ['<rootDir>/test'],
	testMatch: ['**/*.test.ts'],
	// test/e2e drives real n8n (minutes, ~3 GB): `npm run test:e2e`, jest.e2e.config.js.
	testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/e2e/'],
	// Two ES-module-only dependencies Jest's CommonJS loader cannot load on Node 20 (see each stub).
	moduleNameMapper: {
		'^@apidevtools/json-schema-ref-parser$': '<rootDir>/test/stubs/jsonSchemaRefParser.ts',
		'^sanitize-html$': '<rootDir>/test/stubs/sanitizeHtml.ts',
	},
	// tsconfig.json sets isolatedModules: ts-jest transpiles each file alone, without type checks
	// (npm run typecheck does those).
	transform: {
		'^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
	},
	// One n8n user folder for the run, removed at the end.
	globalSetup: '<rootDir>/test/globalSetup.ts',
	globalTeardown: '<rootDir>/test/globalTeardown.ts',
	// Workflow tests start a simulator and n8n's engine; keep them off each other's ports and CPU.
	maxWorkers: 2,
	// A worker that ran the workflow tests holds 250–550 MB (a copy of n8n per test file, some still
	// referenced by Jest and V8 for a while). It exits gracefully — nothing left open, its 'exit'
	// event within milliseconds of Jest's request — but tearing that heap down took 0.3–1 s on a busy
	// 2-core machine, past Jest's default of 500 ms, and Jest then reports a leak. A handle left open
	// still keeps a worker alive past this limit, and Jest still says so.
	workerGracefulExitTimeout: 5000,
	testTimeout: 30000,
};
