/**
 * The GitHub Actions workflows that test and publish the package (n8n verifies only packages
 * published from a GitHub Action with an npm provenance statement): valid for GitHub, as
 * action-validator (GitHub's workflow schema, offline) judges them, and the publish job's
 * guard against a tag, version or repository that do not agree.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parse } from 'yaml';

const ROOT = join(__dirname, '..', '..');
const WORKFLOWS = join(ROOT, '.github', 'workflows');

const manifest = require('../../package.json') as { version: string; engines: { node: string }; repository: { url: string } };

type Step = { name?: string; run?: string };
type Job = { uses?: string; needs?: string; permissions?: Record<string, string>; steps?: Step[]; strategy?: { matrix: Record<string, unknown[]> } };
type Workflow = { on: unknown; jobs: Record<string, Job> };

function readWorkflow(file: string): Workflow {
	return parse(readFileSync(join(WORKFLOWS, file), 'utf8')) as Workflow;
}

/** `action-validator <file>`, the CLI as a developer runs it: exit status and everything it printed. */
function actionValidator(file: string): { status: number | null; output: string } {
	const result = spawnSync(join(ROOT, 'node_modules', '.bin', 'action-validator'), [file], { cwd: ROOT, encoding: 'utf8' });
	return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('GitHub Actions workflows', () => {
	const files = readdirSync(WORKFLOWS).sort();

	it('are the CI and the publish workflow', () => {
		expect(files).toEqual(['ci.yml', 'publish.yml']);
	});

	it.each(files)('%s passes action-validator', (file) => {
		expect(actionValidator(join(WORKFLOWS, file))).toEqual({ status: 0, output: '' });
	});

	it.each([
		['a misspelt permission', 'id-token: write', 'id-token: writ', '/jobs/publish/permissions/id-token'],
		['a job that needs a job that does not exist', 'needs: ci\n', 'needs: tests\n', 'unresolved job tests'],
	])('action-validator rejects publish.yml with %s', (_, correct, broken, reported) => {
		const dir = mkdtempSync(join(tmpdir(), 'vipps-workflow-'));
		try {
			const source = readFileSync(join(WORKFLOWS, 'publish.yml'), 'utf8');
			expect(source).toContain(correct);
			writeFileSync(join(dir, 'publish.yml'), source.replaceAll(correct, broken));
			const { status, output } = actionValidator(join(dir, 'publish.yml'));
			expect(status).toBe(1);
			expect(output).toContain(reported);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});

	it("CI tests on the oldest Node package.json's engines allow", () => {
		const oldest = Number(/^>=\s*(\d+)/.exec(manifest.engines.node)![1]);
		expect(readWorkflow('ci.yml').jobs.test.strategy!.matrix['node-version']).toContain(oldest);
	});
});

describe('publish.yml', () => {
	const workflow = readWorkflow('publish.yml');
	const publish = workflow.jobs.publish;
	const step = (name: string) => publish.steps!.find((s) => s.name === name)!;

	it('publishes from a version tag, after the whole CI, with an OIDC token for the provenance statement', () => {
		expect(workflow.on).toEqual({ push: { tags: ['v*.*.*'] } });
		expect(workflow.jobs.ci.uses).toBe('./.github/workflows/ci.yml');
		expect(publish.needs).toBe('ci');
		expect(publish.permissions).toEqual({ 'id-token': 'write', contents: 'read' });
		expect(step('Publish').run).toContain('npm publish --provenance --access public');
	});

	describe('its check that tag, package.json and repository agree', () => {
		// The step's own script, run as GitHub runs it for a tag push.
		const check = step('Check the tag, package.json and the repository agree').run!;
		const repository = /github\.com\/([^/]+\/[^/]+?)(\.git)?$/.exec(manifest.repository.url)![1];
		const run = (tag: string, githubRepository: string) => {
			const result = spawnSync('bash', ['-e', '-c', check], {
				cwd: ROOT,
				encoding: 'utf8',
				env: { ...process.env, GITHUB_REF_NAME: tag, GITHUB_REPOSITORY: githubRepository },
			});
			return { status: result.status, output: `${result.stdout}${result.stderr}` };
		};

		it("lets the tag of package.json's version through, in package.json's repository", () => {
			expect(run(`v${manifest.version}`, repository)).toEqual({ status: 0, output: '' });
		});

		it("stops a tag that is not package.json's version", () => {
			const { status, output } = run('v99.0.0', repository);
			expect(status).toBe(1);
			expect(output).toContain(`::error::Tag v99.0.0 does not match package.json version ${manifest.version}`);
		});

		it('stops a run in a repository that package.json does not name', () => {
			const { status, output } = run(`v${manifest.version}`, 'someone-else/n8n-nodes-vipps-checkin');
			expect(status).toBe(1);
			expect(output).toContain('expected https://github.com/someone-else/n8n-nodes-vipps-checkin');
		});
	});
});
