/**
 * The package as n8n receives it: what `npm pack` ships, that the built node and credential
 * load from the paths package.json names, and n8n's own community-node lint.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import type { ESLint } from 'eslint';
import type { ICredentialType, INodeType } from 'n8n-workflow';

import { REPOSITORY_ROOT, loadPackage } from '../../harness/runWorkflow';

const manifest = require('../../package.json') as {
	name: string;
	dependencies?: Record<string, string>;
	devDependencies: Record<string, string>;
	peerDependencies: Record<string, string>;
	n8n: { nodes: string[]; credentials: string[]; n8nNodesApiVersion: number; strict: boolean };
	keywords: string[];
};

describe('package.json', () => {
	it('is a community node package n8n can install', () => {
		expect(manifest.name).toMatch(/^n8n-nodes-/);
		// Sent as Vipps-System-Plugin-Name: at most 30 characters.
		expect(manifest.name.length).toBeLessThanOrEqual(30);
		expect(manifest.keywords).toContain('n8n-community-node-package');
		expect(manifest.n8n.n8nNodesApiVersion).toBe(1);
		expect(manifest.peerDependencies).toEqual({ 'n8n-workflow': '*' });
	});

	it('has no runtime dependency: n8n verifies only packages without them (zod comes from n8n itself)', () => {
		expect(manifest.dependencies ?? {}).toEqual({});
		// zod is allowlisted and provided by n8n at run time; it is a devDependency for types and tests.
		expect(manifest.devDependencies.zod).toBe('3.25.76');
	});

	it("lints with n8n Cloud's rule set (strict)", () => {
		expect(manifest.n8n.strict).toBe(true);
	});
});

describe('npm pack', () => {
	it('ships only what n8n needs: dist, icons, README, LICENSE, package.json', () => {
		const [pack] = JSON.parse(
			// stderr piped: npm lists every file there as a notice; a failure still carries it.
			execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPOSITORY_ROOT, encoding: 'utf8', stdio: 'pipe' }),
		) as Array<{ files: Array<{ path: string }> }>;
		const files = pack.files.map((f) => f.path);
		const unexpected = files.filter(
			(path) => !/^(dist\/(nodes|credentials)\/.+\.(js|json|svg)|dist\/package\.json|package\.json|README\.md|LICENSE|index\.js)$/.test(path),
		);
		expect(unexpected).toEqual([]);
		for (const file of [...manifest.n8n.nodes, ...manifest.n8n.credentials]) expect(files).toContain(file);
		expect(files).toEqual(expect.arrayContaining(['dist/nodes/VippsCheckIn/vippsCheckIn.svg', 'dist/nodes/VippsCheckIn/vippsCheckIn.dark.svg', 'dist/nodes/VippsCheckIn/VippsCheckIn.node.json']));
		expect(files.some((path) => path.endsWith('.map') || path.startsWith('dist/test') || path.startsWith('dist/simulator'))).toBe(false);
	});
});

describe('the built package', () => {
	const { nodeTypes, credentialTypes } = loadPackage();

	it('loads its node under the community-package type name, with icons in light and dark', () => {
		const node = nodeTypes.get('n8n-nodes-vipps-checkin.vippsCheckIn') as INodeType;
		expect(node.description.displayName).toBe('Vipps Check-in');
		expect(node.description.usableAsTool).toBe(true);
		expect(node.description.credentials).toEqual([{ name: 'vippsMobilePayApi', required: true }]);
		const icon = node.description.icon as { light: string; dark: string };
		for (const file of [icon.light, icon.dark]) {
			expect(existsSync(join(REPOSITORY_ROOT, 'dist/nodes/VippsCheckIn', file.replace('file:', '')))).toBe(true);
		}
	});

	it('loads its credential, with every secret as a password field', () => {
		const credential = credentialTypes.get('vippsMobilePayApi') as ICredentialType;
		const passwordFields = credential.properties.filter((p) => p.typeOptions?.password).map((p) => p.name);
		expect(passwordFields.sort()).toEqual(['clientSecret', 'subscriptionKey']);
		expect(credential.properties.map((p) => p.name)).toEqual(
			expect.arrayContaining(['environment', 'customBaseUrl', 'clientId', 'merchantSerialNumber', 'systemName', 'systemVersion', 'pluginName', 'pluginVersion']),
		);
	});

	it('describes every parameter for the user', () => {
		const node = nodeTypes.get('n8n-nodes-vipps-checkin.vippsCheckIn') as INodeType;
		type Field = { name: string; type?: string; description?: string; options?: unknown[] };
		const fields = (node.description.properties as Field[]).flatMap((p) => [p, ...((p.options ?? []) as Field[]).filter((o) => 'type' in o)]);
		const undescribed = fields.filter(
			(p) => !['notice', 'collection'].includes(p.type!) && !['resource', 'operation'].includes(p.name) && !p.description,
		);
		expect(undescribed.map((p) => p.name)).toEqual([]);
		expect(fields.filter((p) => p.type !== 'notice').length).toBeGreaterThan(10);
	});
});

describe("n8n's community-node lint (n8n-node lint, strict: n8n Cloud's rules)", () => {
	it('finds no error and no warning', () => {
		// `npm run lint` runs `n8n-node lint`, which checks that eslint.config.mjs is n8n's default and
		// runs `eslint .`; the same, as JSON. Development tooling (test/, simulator/, harness/,
		// scripts/) has its own eslint.config.mjs, found through ESLint's config lookup from file.
		// Without jest's NODE_ENV=test, which switches eslint-plugin-n8n-nodes-base into its own self-test mode.
		const env = { ...process.env, NODE_ENV: undefined, ESLINT_FLAGS: 'unstable_config_lookup_from_file' };
		execFileSync(join(REPOSITORY_ROOT, 'node_modules/.bin/n8n-node'), ['lint'], { cwd: REPOSITORY_ROOT, env, stdio: 'pipe' });
		let output: string;
		try {
			output = execFileSync(join(REPOSITORY_ROOT, 'node_modules/.bin/eslint'), ['.', '--format', 'json'], { cwd: REPOSITORY_ROOT, encoding: 'utf8', env, stdio: 'pipe' });
		} catch (error) {
			output = (error as { stdout: string }).stdout;
		}
		const results = JSON.parse(output) as ESLint.LintResult[];
		const problems = results.flatMap((r) => r.messages.map((m) => `${r.filePath}:${m.line} ${m.ruleId} ${m.message}`));
		expect(problems).toEqual([]);
		const linted = results.map((r) => r.filePath.slice(REPOSITORY_ROOT.length + 1));
		expect(linted).toEqual(
			expect.arrayContaining([
				'package.json',
				'credentials/VippsMobilePayApi.credentials.ts',
				'nodes/VippsCheckIn/VippsCheckIn.node.ts',
				'nodes/VippsCheckIn/transport/index.ts',
			]),
		);
	}, 120_000);
});

describe("n8n's community-package scanner (@n8n/scan-community-package), applied to the packed tarball and the sources", () => {
	it('finds nothing: the package can be verified', () => {
		const env = { ...process.env, NODE_ENV: undefined };
		const findings = JSON.parse(
			// The scanner packs the package: npm's notices go to the piped stderr.
			execFileSync('node', ['scripts/scan-package.mjs', '--json'], { cwd: REPOSITORY_ROOT, encoding: 'utf8', env, stdio: 'pipe' }),
		) as Record<'tarball' | 'source', Array<{ file: string; rule: string; message: string }>>;
		expect(findings).toEqual({ tarball: [], source: [] });
	}, 60_000);
});
