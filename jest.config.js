/** @type {import('jest').Config} */
module.exports = {
	testEnvironment: 'node',
	roots: ['<rootDir>/test'],
	testMatch: ['**/*.test.ts'],
	transform: {
		'^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', isolatedModules: true }],
	},
	// Workflow tests start a simulator and n8n's engine; keep them off each other's ports and CPU.
	maxWorkers: 2,
	testTimeout: 30000,
};
